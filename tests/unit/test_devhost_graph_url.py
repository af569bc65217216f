"""`make run` against any Graph-compatible server: a CDC_GRAPH_URL (and
CDC_GRAPH_AUTHORITY) set in the environment wins over the local stand-in, and the
product reads its Graph base URL and authority from those settings only."""

from __future__ import annotations

from devhost.__main__ import external_graph
from devhost.stack import Stack
from shared.graph.config import DEFAULT_AUTHORITY, DEFAULT_GRAPH_URL, GraphConfig


def test_a_graph_url_set_by_the_caller_is_honoured() -> None:
    env = {"CDC_GRAPH_URL": "https://graph.example.net/v1.0", "CDC_GRAPH_AUTHORITY": "", "X": "1"}
    external = external_graph(env)
    assert external == {"CDC_GRAPH_URL": "https://graph.example.net/v1.0"}
    stack = Stack(authority_url="http://127.0.0.1:9", graph_url=external["CDC_GRAPH_URL"])
    assert stack.env["CDC_GRAPH_URL"] == "https://graph.example.net/v1.0"
    assert stack.graph is None  # no stand-in object: the caller's server is used
    assert external_graph({}) == {}


def test_graph_settings_default_to_microsoft_graph() -> None:
    config = GraphConfig.from_env({})
    assert (config.url, config.authority) == (DEFAULT_GRAPH_URL, DEFAULT_AUTHORITY)
    other = GraphConfig.from_env(
        {
            "CDC_GRAPH_URL": "https://graph.example.net/v1.0/",
            "CDC_GRAPH_AUTHORITY": "https://login.example.net",
        }
    )
    assert (
        other.url == "https://graph.example.net/v1.0"
        and other.origin == "https://graph.example.net"
    )
    assert other.authority == "https://login.example.net"
    assert other.scope == "https://graph.example.net/.default"
