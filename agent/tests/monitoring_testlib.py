"""A Skype for Business Monitoring database pair (QoEMetrics + LcsCDR) in SQLite, laid
out from the documented schema (cdc_agent.monitoring.schema: tables, columns, keys) and
filled the way the Monitoring server fills it from what clients report: both endpoints'
QoE reports of a dialog merged into one Session / MediaLine / stream-per-direction set,
each CDR into SessionDetails or ConferenceSessionDetails + Dialogs + Users + Media.

Values are stored with the precision of their documented column (an int column gets an
int, a decimal(5,2) two decimals), as SQL Server would keep them; SQLite does not do
that by itself. This is test scaffolding only: the agent never writes a database.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import (
    Engine,
    Float,
    Integer,
    Numeric,
    create_engine,
    event,
    insert,
    select,
    update,
)

from cdc_agent.monitoring import schema as s
from cdc_agent.monitoring.qoe import ICE_CODES, LABELS, TRANSPORTS

LABEL_CODES = {v: k for k, v in LABELS.items()}
ICE_VALUES = {v: k for k, v in ICE_CODES.items()}
TRANSPORT_VALUES = {v: k for k, v in TRANSPORTS.items()}
CONNECTION_DETAILS = {0: "Wired", 1: "WiFi", 2: "Ethernet", 3: "MobileBB", 4: "Other", 5: "Tunnel"}
URI_COLUMN = {"Caller": "CallerURI", "Callee": "CalleeUri"}  # as documented
MEDIA_IDS = {
    "im": 1,
    "file-transfer": 2,
    "remote-assistance": 3,
    "data": 4,
    "audio": 5,
    "video": 6,
    "app-invite": 7,
}


def _t(value: str | None) -> datetime | None:
    if not value:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def _kids(el: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if el is None:
        return out
    for c in el:
        if isinstance(c.tag, str):
            out.setdefault(etree.QName(c).localname, c)
    return out


def _find(el: Any, *path: str) -> Any:
    for step in path:
        el = _kids(el).get(step)
        if el is None:
            return None
    return el


def _text(el: Any) -> str | None:
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def _num(el: Any) -> float | None:
    t = _text(el)
    return None if t is None else float(t)


def _bool(el: Any) -> bool | None:
    t = _text(el)
    return None if t is None else t.lower() in ("true", "1")


class MonitoringDb:
    """Two SQLite files created from the documented schema, and the lookups/inserts
    the Monitoring server would do."""

    def __init__(self, folder: Path, *, ncs_subnets: bool = True) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.qoe_path, self.cdr_path = folder / "QoEMetrics.db", folder / "LcsCDR.db"
        self.qoe: Engine = create_engine(f"sqlite:///{self.qoe_path}")
        self.cdr: Engine = create_engine(f"sqlite:///{self.cdr_path}")
        for engine in (self.qoe, self.cdr):  # test data: no fsync per inserted report
            event.listen(
                engine, "connect", lambda conn, _record: conn.execute("PRAGMA synchronous=OFF")
            )
        s.qoe_metadata.create_all(self.qoe)
        s.cdr_metadata.create_all(self.cdr)
        self.ncs_subnets = ncs_subnets
        with self.qoe.begin() as c:
            for k, v in CONNECTION_DETAILS.items():
                if (
                    c.execute(
                        select(s.qoe_network_connection_detail).where(
                            s.qoe_network_connection_detail.c.NetworkConnectionDetailKey == k
                        )
                    ).first()
                    is None
                ):
                    c.execute(
                        insert(s.qoe_network_connection_detail).values(
                            NetworkConnectionDetailKey=k, NetworkConnectionDetail=v
                        )
                    )
        with self.cdr.begin() as c:
            names = {
                1: "IM",
                2: "File Transfer",
                3: "Remote Assistance",
                4: "Application Sharing",
                5: "Audio",
                6: "Video",
                7: "App Invite",
            }
            for k, v in names.items():
                if (
                    c.execute(
                        select(s.cdr_media_list).where(s.cdr_media_list.c.MediaId == k)
                    ).first()
                    is None
                ):
                    c.execute(insert(s.cdr_media_list).values(MediaId=k, Media=v))

    def url(self, kind: str, read_only: bool = True) -> str:
        path = self.qoe_path if kind == "qoe" else self.cdr_path
        return f"sqlite:///file:{path}?mode=ro&uri=true" if read_only else f"sqlite:///{path}"

    # --- helpers --------------------------------------------------------------------

    @staticmethod
    def _stored(table: Any, values: dict[str, Any]) -> dict[str, Any]:
        """Values as their documented column type keeps them."""
        out = {}
        for k, v in values.items():
            col = table.c[k]
            if isinstance(v, float) and not isinstance(v, bool):
                if isinstance(col.type, Integer):
                    v = round(v)
                elif isinstance(col.type, Numeric) and not isinstance(col.type, Float):
                    v = round(v, col.type.scale or 0)
            out[k] = v
        return out

    @staticmethod
    def _lookup(
        c: Any, table: Any, key: str, col: str, value: Any, extra: dict[str, Any] | None = None
    ) -> int | None:
        if value is None:
            return None
        where = [table.c[col] == value] + [table.c[k] == v for k, v in (extra or {}).items()]
        row = c.execute(select(table.c[key]).where(*where)).first()
        if row is not None:
            return int(row[0])
        n = c.execute(select(table.c[key]).order_by(table.c[key].desc())).first()
        new = (int(n[0]) if n else 0) + 1
        c.execute(insert(table).values({key: new, col: value, **(extra or {})}))
        return new

    def _upsert(self, c: Any, table: Any, key: dict[str, Any], values: dict[str, Any]) -> None:
        values = {k: v for k, v in values.items() if v is not None}
        where = [table.c[k] == v for k, v in key.items()]
        if c.execute(select(*[table.c[k] for k in key]).where(*where)).first() is None:
            c.execute(insert(table).values(self._stored(table, {**key, **values})))
        elif values:
            c.execute(update(table).where(*where).values(self._stored(table, values)))

    # --- CDR ------------------------------------------------------------------------

    def add_cdr(self, data: dict[str, Any]) -> tuple[datetime, int]:
        with self.cdr.begin() as c:
            t = _t(data["sessionIdTime"])
            assert t is not None
            seq = int(data["sessionIdSeq"])
            while (
                c.execute(
                    select(s.cdr_dialogs).where(
                        s.cdr_dialogs.c.SessionIdTime == t, s.cdr_dialogs.c.SessionIdSeq == seq
                    )
                ).first()
                is not None
            ):
                seq += 1  # two sessions at the same instant: the server numbers them
            ext = f"{data['callId']};{data.get('fromTag') or ''};{data.get('toTag') or ''}"
            c.execute(
                insert(s.cdr_dialogs).values(
                    SessionIdTime=t, SessionIdSeq=seq, ExternalId=ext.encode()
                )
            )
            u1 = self._lookup(c, s.cdr_users, "UserId", "UserUri", data["user1Uri"])
            v1 = self._lookup(
                c, s.cdr_client_versions, "VersionId", "Version", data.get("user1UserAgent")
            )
            v2 = self._lookup(
                c, s.cdr_client_versions, "VersionId", "Version", data.get("user2UserAgent")
            )
            common = {
                "SessionIdTime": t,
                "SessionIdSeq": seq,
                "InviteTime": _t(data.get("inviteTime")),
                "ResponseTime": _t(data.get("responseTime")),
                "ResponseCode": data.get("responseCode"),
                "DiagnosticId": data.get("diagnosticId"),
                "SessionEndTime": _t(data.get("endTime")),
            }
            if data.get("isConference"):
                focus = self._lookup(
                    c,
                    s.cdr_conference_uris,
                    "ConferenceUriId",
                    "ConferenceUri",
                    data.get("conferenceUri"),
                )
                mcu = self._lookup(
                    c,
                    s.cdr_conference_uris,
                    "ConferenceUriId",
                    "ConferenceUri",
                    data.get("user2Uri"),
                )
                c.execute(
                    insert(s.cdr_conference_session_details).values(
                        **common,
                        ConferenceUriId=focus,
                        McuConferenceUriId=mcu,
                        UserId=u1,
                        UserClientVersionId=v1,
                        ConfClientVersionId=v2,
                    )
                )
            else:
                u2 = self._lookup(c, s.cdr_users, "UserId", "UserUri", data.get("user2Uri"))
                bits = {"data": 8, "audio": 16, "video": 32}
                c.execute(
                    insert(s.cdr_session_details).values(
                        **common,
                        User1Id=u1,
                        User2Id=u2,
                        User1ClientVerId=v1,
                        User2ClientVerId=v2,
                        CorrelationId=data.get("correlationId"),
                        MediaTypes=sum(bits.get(m, 0) for m in set(data.get("mediaTypes") or [])),
                    )
                )
            for m in data.get("mediaTypes") or []:
                c.execute(
                    insert(s.cdr_media).values(
                        SessionIdTime=t,
                        SessionIdSeq=seq,
                        MediaId=MEDIA_IDS[m],
                        StartTime=common["InviteTime"],
                        EndTime=common["SessionEndTime"],
                    )
                )
        return t, seq

    # --- QoE ------------------------------------------------------------------------

    def add_qoe(self, xml: str, received: datetime | None = None) -> tuple[datetime, int]:
        """Merge one endpoint's report into the QoE tables; returns the session key.
        `received` is when the QoE agent got it (default: the dialog's end + 1 s)."""
        root = etree.fromstring(xml.encode())
        report = next(
            el
            for el in root
            if etree.QName(el).localname in ("VQSessionReport", "VQSessionIntervalReport")
        )
        top = _kids(report)
        dialog = top["DialogInfo"]
        dk = _kids(dialog)
        call_id, from_tag, to_tag = (
            dialog.get("CallId"),
            dialog.get("FromTag"),
            dialog.get("ToTag"),
        )
        dialog_id = f"{call_id};from-tag={from_tag};to-tag={to_tag}"
        me_caller = bool(_bool(dk.get("Caller")))
        me, other = ("Caller", "Callee") if me_caller else ("Callee", "Caller")
        start, end = _t(dialog.get("Start")), _t(dialog.get("End"))
        with self.qoe.begin() as c:
            found = c.execute(
                select(s.qoe_dialog.c.ConferenceDateTime, s.qoe_dialog.c.SessionSeq).where(
                    s.qoe_dialog.c.DialogID == dialog_id
                )
            ).first()
            if found is not None:
                key = {"ConferenceDateTime": found[0], "SessionSeq": int(found[1])}
            else:
                t = received or ((end or datetime(2000, 1, 1)) + timedelta(seconds=1))
                seq = 1
                while (
                    c.execute(
                        select(s.qoe_session).where(
                            s.qoe_session.c.ConferenceDateTime == t,
                            s.qoe_session.c.SessionSeq == seq,
                        )
                    ).first()
                    is not None
                ):
                    seq += 1
                key = {"ConferenceDateTime": t, "SessionSeq": seq}
                c.execute(insert(s.qoe_dialog).values(**key, DialogID=dialog_id))
            conf_uri = _text(dk.get("ConfURI")) or dialog_id
            values: dict[str, Any] = {
                "ConferenceKey": self._lookup(
                    c, s.qoe_conference, "ConferenceKey", "ConfURI", conf_uri
                ),
                "StartTime": start,
                "EndTime": end,
                URI_COLUMN[me]: self._lookup(
                    c, s.qoe_user, "UserKey", "URI", _text(dk.get("FromURI"))
                ),
                URI_COLUMN[other]: self._lookup(
                    c, s.qoe_user, "UserKey", "URI", _text(dk.get("ToURI"))
                ),
                f"{me}UserAgent": self._lookup(
                    c,
                    s.qoe_user_agent,
                    "UserAgentKey",
                    "UserAgent",
                    _text(dk.get("LocalUserAgent")),
                ),
                f"{other}UserAgent": self._lookup(
                    c,
                    s.qoe_user_agent,
                    "UserAgentKey",
                    "UserAgent",
                    _text(dk.get("RemoteUserAgent")),
                ),
                f"{me}PAI": self._lookup(
                    c, s.qoe_user, "UserKey", "URI", _text(dk.get("LocalPAI"))
                ),
                f"{other}PAI": self._lookup(
                    c, s.qoe_user, "UserKey", "URI", _text(dk.get("RemotePAI"))
                ),
            }
            ep = top.get("Endpoint")
            if ep is not None:
                attrs = {etree.QName(k).localname: v for k, v in ep.attrib.items()}
                ep_key = self._lookup(c, s.qoe_endpoint, "EndpointKey", "Name", attrs["Name"])
                c.execute(
                    update(s.qoe_endpoint)
                    .where(s.qoe_endpoint.c.EndpointKey == ep_key)
                    .values(
                        OS=attrs.get("OS"),
                        CPUName=attrs.get("CPUName"),
                        CPUNumberOfCores=int(attrs["CPUNumberOfCores"])
                        if attrs.get("CPUNumberOfCores")
                        else None,
                        VirtualizationFlag=int(attrs["VirtualizationFlag"])
                        if attrs.get("VirtualizationFlag")
                        else None,
                    )
                )
                values[f"{me}Endpoint"] = ep_key
            if found is not None:  # the second report adds only its own side
                values = {k: v for k, v in values.items() if k.startswith(me)}
            self._upsert(c, s.qoe_session, key, values)
            interval = etree.QName(report).localname == "VQSessionIntervalReport"
            for line in report:
                if etree.QName(line).localname == "MediaLine":
                    self._media_line(c, key, line, me, me_caller, interval)
            return key["ConferenceDateTime"], key["SessionSeq"]

    def _media_line(
        self, c: Any, key: dict[str, Any], line: Any, me: str, me_caller: bool, interval: bool
    ) -> None:
        label = LABEL_CODES[line.get("Label")]
        lk = _kids(line)
        desc = _kids(lk.get("Description"))
        nci = _kids(desc.get("NetworkConnectivityInfo"))
        local = _kids(desc.get("LocalAddr"))
        ip, mask = _text(local.get("IPAddr")), _text(local.get("SubnetMask"))
        subnet = None
        if ip and mask:
            net = ipaddress.ip_network(f"{ip}/{mask}", strict=False)
            subnet = str(net.network_address)
            if self.ncs_subnets:
                sub_int = int(ipaddress.IPv4Address(subnet))
                sub_int = sub_int - (1 << 32) if sub_int >= 1 << 31 else sub_int  # SQL int
                if (
                    c.execute(
                        select(s.qoe_subnet).where(s.qoe_subnet.c.SubnetIP == sub_int)
                    ).first()
                    is None
                ):
                    c.execute(
                        insert(s.qoe_subnet).values(SubnetIP=sub_int, SubnetMask=net.prefixlen)
                    )
        details = _text(nci.get("NetworkConnectionDetails"))
        conn_key = next(
            (k for k, v in CONNECTION_DETAILS.items() if details and v.lower() == details.lower()),
            None,
        )
        cap, ren = _kids(desc.get("CaptureDev")), _kids(desc.get("RenderDev"))
        lk_ice = _text(_find(desc.get("Connectivity"), "Ice"))
        ml_key = {**key, "MediaLineLabel": label}
        found = c.execute(
            select(s.qoe_media_line.c.MediaLineLabel).where(
                *[s.qoe_media_line.c[k] == v for k, v in ml_key.items()]
            )
        ).first()
        values: dict[str, Any] = {
            me: True,
            f"{me}IPAddr": self._lookup(c, s.qoe_ip_address, "IPAddressKey", "IPAddress", ip),
            f"{me}Subnet": self._lookup(c, s.qoe_ip_address, "IPAddressKey", "IPAddress", subnet),
            f"{me}Port": _num(local.get("Port")),
            f"{me}Inside": _bool(local.get("Inside")),
            f"{me}MacAddress": self._lookup(
                c, s.qoe_mac_address, "MacAddressKey", "MacAddress", _text(local.get("MACAddr"))
            ),
            f"{me}Bssid": self._lookup(
                c, s.qoe_mac_address, "MacAddressKey", "MacAddress", _text(nci.get("BSSID"))
            ),
            f"{me}VPN": _bool(nci.get("VPN")),
            f"{me}LinkSpeed": _num(nci.get("LinkSpeed")),
            f"{me}NetworkConnectionType": conn_key,
            f"{me}ConnectivityICE": ICE_VALUES.get(lk_ice) if lk_ice else None,
            f"{me}CaptureDev": self._lookup(
                c,
                s.qoe_device,
                "DeviceKey",
                "DeviceName",
                _text(cap.get("Name")),
                {"DeviceType": True},
            ),
            f"{me}RenderDev": self._lookup(
                c,
                s.qoe_device,
                "DeviceKey",
                "DeviceName",
                _text(ren.get("Name")),
                {"DeviceType": False},
            ),
            f"{me}CaptureDevDriver": self._lookup(
                c, s.qoe_device_driver, "DeviceDriverKey", "DeviceDriver", _text(cap.get("Driver"))
            ),
            f"{me}RenderDevDriver": self._lookup(
                c, s.qoe_device_driver, "DeviceDriverKey", "DeviceDriver", _text(ren.get("Driver"))
            ),
            "MidCallReport": interval,
        }
        if found is None:  # one transport per media line: the first report's
            transport = _text(desc.get("Transport"))
            values["Transport"] = TRANSPORT_VALUES.get(transport or "")
        self._upsert(c, s.qoe_media_line, ml_key, values)
        # streams: what this endpoint received, and the round trip of what it sent
        for tag, sender_is_caller in (
            ("InboundStream", not me_caller),
            ("OutboundStream", me_caller),
        ):
            self._stream(c, ml_key, lk.get(tag), tag == "InboundStream", sender_is_caller)
        events = _kids(lk.get("LocalClientEvent"))
        if events:
            ev = {
                name: value * 100.0
                for name, el in events.items()
                if name in s.AUDIO_CLIENT_EVENT_RATIOS and (value := _num(el)) is not None
            }
            self._upsert(c, s.qoe_audio_client_event, {**ml_key, "FromCaller": me_caller}, ev)

    def _stream(
        self, c: Any, ml_key: dict[str, Any], stream: Any, inbound: bool, sender_is_caller: bool
    ) -> None:
        if stream is None:
            return
        sk = _kids(stream)
        net = _kids(sk.get("Network"))
        payload = _kids(sk.get("Payload"))
        kind = (
            "audio"
            if "Audio" in payload
            else "video"
            if "Video" in payload
            else "sharing"
            if "ApplicationSharing" in payload
            else None
        )
        if kind is None:
            return
        table = {
            "audio": s.qoe_audio_stream,
            "video": s.qoe_video_stream,
            "sharing": s.qoe_app_sharing_stream,
        }[kind]
        key = {**ml_key, "StreamID": 1 if sender_is_caller else 2}
        delay = _kids(net.get("Delay"))
        values: dict[str, Any] = {"SenderIsCallerPAI": sender_is_caller}
        if not inbound:
            values |= {
                "Outbound": True,
                "RoundTrip": _num(delay.get("RoundTrip")),
                "RoundTripMax": _num(delay.get("RoundTripMax")),
            }
        else:
            values |= {
                "Inbound": True,
                "JitterInterArrival": _num(_find(net.get("Jitter"), "InterArrival")),
                "JitterInterArrivalMax": _num(_find(net.get("Jitter"), "InterArrivalMax")),
                "PacketLossRate": _num(_find(net.get("PacketLoss"), "LossRate")),
                "PacketLossRateMax": _num(_find(net.get("PacketLoss"), "LossRateMax")),
                "PacketUtilization": _num(_find(net.get("Utilization"), "Packets")),
                "RelativeOneWayAverage": _num(_find(delay.get("RelativeOneWay"), "Average")),
            }
        codec = None
        if kind == "audio":
            audio = _kids(payload["Audio"])
            codec = _text(audio.get("PayloadDescription"))
            if inbound:
                values |= {
                    "RatioConcealedSamplesAvg": _num(net.get("RatioConcealedSamplesAvg")),
                    "DegradationAvg": _num(
                        _find(sk.get("QualityEstimates"), "Audio", "NetworkMOS", "DegradationAvg")
                    ),
                    "AudioPostFECPLR": _num(audio.get("AudioPostFECPLR")),
                }
        elif kind == "video":
            video = _kids(payload["Video"])
            codec = _text(video.get("PayloadDescription"))
            rate = _num(video.get("VideoFrameRateAvg"))
            if inbound:
                values |= {
                    "InboundVideoFrameRateAvg": rate,
                    "VideoFrameLossRate": _num(video.get("VideoFrameLossRate")),
                    "VideoPostFECPLR": _num(video.get("VideoPostFECPLR")),
                    "VideoResolution": _text(video.get("Resolution")),
                }
            else:
                values["OutboundVideoFrameRateAvg"] = rate
        else:
            app = _kids(payload["ApplicationSharing"])
            if inbound:
                values |= {
                    "SpoiledTilePercentTotal": _num(_find(app.get("SpoiledTilePercent"), "Total")),
                    "RDPTileProcessingLatencyAverage": _num(
                        _find(app.get("RDPTileProcessingLatency"), "Average")
                    ),
                }
        codec_key = self._lookup(
            c, s.qoe_payload_description, "PayloadDescriptionKey", "PayloadDescription", codec
        )
        existing = (
            c.execute(select(table).where(*[table.c[k] == v for k, v in key.items()]))
            .mappings()
            .first()
        )
        if kind == "audio" and (
            inbound or existing is None or existing["AudioPayloadDescription"] is None
        ):
            values["AudioPayloadDescription"] = codec_key  # the receiver's word wins
        elif kind == "video":
            key["VideoPayloadDescription"] = (
                existing["VideoPayloadDescription"] if existing is not None else codec_key or 0
            )
        self._upsert(c, table, key, values)

    # --- whole calls ----------------------------------------------------------------

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        for r in records:
            if r["kind"] == "cdr":
                self.add_cdr(r["data"])
            else:
                self.add_qoe(r["data"])


# --- the reference XML, as the databases can keep it ----------------------------------

# MS-QoE element -> decimals its QoEMetrics column keeps (0: an int column)
STORED_DECIMALS = {
    "InterArrival": 0,
    "InterArrivalMax": 0,
    "RoundTrip": 0,
    "RoundTripMax": 0,
    "LossRate": 4,
    "LossRateMax": 4,
    "Packets": 0,
    "DegradationAvg": 2,
    "RatioConcealedSamplesAvg": 2,
    "VideoFrameRateAvg": 4,
    "VideoFrameLossRate": 4,
    "LinkSpeed": 0,
    "Port": 0,
}


def as_stored(calls: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """The calls' QoE reports with (1) each value at the precision of the database column
    that keeps it (client event ratios: 4 decimals, a percentage with 2) and (2) one mask
    per subnet, as a real network has (the generator picks masks per endpoint, so the
    same network address can come with two masks; the database keeps the subnet address
    and the network configuration its one mask). The reference for the round trip:
    what the Monitoring server can store of these calls."""
    plan: dict[str, int] = {}
    out = []
    for records in calls:
        new = []
        for r in records:
            if r["kind"] != "qoe":
                new.append(r)
                continue
            root = etree.fromstring(r["data"].encode())
            for el in root.iter(etree.Element):
                name = etree.QName(el).localname
                parent = etree.QName(el.getparent()).localname if el.getparent() is not None else ""
                if name in STORED_DECIMALS and el.text:
                    el.text = format(round(float(el.text), STORED_DECIMALS[name]), "g")
                elif parent in ("LocalClientEvent", "RemoteClientEvent") and el.text:
                    el.text = format(round(float(el.text), 4), "g")
                elif name == "LocalAddr":
                    kids = _kids(el)
                    ip, mask = _text(kids.get("IPAddr")), kids.get("SubnetMask")
                    if ip and mask is not None and mask.text:
                        prefix = ipaddress.ip_network(f"0.0.0.0/{mask.text}").prefixlen
                        for p in [prefix, 24, 23, 22, 21, 20]:
                            net = str(
                                ipaddress.ip_network(f"{ip}/{p}", strict=False).network_address
                            )
                            if plan.setdefault(net, p) == p:
                                break
                        mask.text = str(ipaddress.ip_network(f"0.0.0.0/{p}").netmask)
            text = etree.tostring(root, encoding="unicode")
            new.append({**r, "data": '<?xml version="1.0" encoding="utf-8"?>\n' + text})
        out.append(new)
    return out
