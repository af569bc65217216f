"""Generates the field tables of docs/data-handling.md from the code.

Why generated: the document tells a privacy officer which fields are uploaded, stored,
derived or dropped, which are EUII and who may read them. Typed by hand, such tables go
stale the first time a model gains a field. Here every table is computed from what the
code itself uses:
- the stored models' fields (`shared.models.call`, `shared.models.envelope`, the CDR
  record model, tenant settings, building rows, topology) through pydantic/dataclass
  introspection;
- the keys of the plain-dict documents (call history, user directory, batch status,
  audit, quarantine and poison blobs) by reading the dict literals in the code that
  writes them (`ast`), or by calling the pure builder functions;
- who may read a call-detail field, from the visibility classification
  (`shared.analytics.visibility.FIELD_CLASSES`), the same table the API projects with;
- retention from `shared.storage.layout`; metric names from `shared.telemetry`.
What the code cannot say (what a field means, whether it is EUII, which source element
it is read from) is declared once below, per field. A field without a declaration stops
the generator with its name, so a new field cannot reach the document, or the store,
unexplained.

Usage: `python -m tools.datadoc` rewrites the tables between the markers
`<!-- datadoc:begin NAME -->` and `<!-- datadoc:end NAME -->`; `--check` only compares
and exits 1 when the committed document differs (tests/unit/test_data_handling_doc.py).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "data-handling.md"
MARKER = re.compile(
    r"<!-- datadoc:begin (?P<name>[\w-]+) -->\n.*?<!-- datadoc:end (?P=name) -->", re.S
)


class MissingDoc(Exception):
    """A field or key the code stores that this file does not describe."""


@dataclass(frozen=True)
class F:
    """What the code cannot say about a field.

    `euii`: empty when the field is not end-user identifiable information, else what
    makes it so. `qoe` / `cdr` / `graph`: the element or property of that source it is
    read from ("" = not from that source); a field read from no source is derived."""

    what: str
    euii: str = ""
    qoe: str = ""
    cdr: str = ""
    graph: str = ""
    pstn: str = ""  # a Graph PSTN / Direct Routing log row's property


# ------------------------------------------------------------------ the call document

CALL_FIELDS: dict[str, F] = {
    # Endpoint: a party of a session, as its own report (or Graph) describes it
    "Endpoint.role": F(
        "caller or callee",
        qoe="`DialogInfo/Caller`",
        cdr="user1 = caller",
        graph="session `caller` / `callee`",
    ),
    "Endpoint.uri": F(
        "the party's address",
        "SIP URI, UPN or phone number",
        qoe="`DialogInfo/FromURI`, `ToURI`",
        cdr="`user1Uri`, `user2Uri`",
        graph="`identity.user.userPrincipalName` (as `sip:`), "
        "`identity.phone.id` (as `tel:`), other identities' `id`",
    ),
    "Endpoint.display_name": F(
        "the party's name",
        "name",
        cdr="`user1DisplayName`, `user2DisplayName`",
        graph="`identity.*.displayName`",
    ),
    "Endpoint.kind": F(
        "user, phone, guest, server or unknown: derived from the address",
        graph="which identity is set",
    ),
    "Endpoint.user_agent": F(
        "client or server software and version",
        qoe="`DialogInfo/LocalUserAgent`, `RemoteUserAgent`",
        cdr="`user1UserAgent`, `user2UserAgent`",
        graph="`userAgent.headerValue`",
    ),
    "Endpoint.machine_name": F(
        "the endpoint's computer name",
        "machine endpoint name",
        qoe="`Endpoint@Name`",
        graph="endpoint `name`",
    ),
    "Endpoint.os": F("operating system", qoe="`Endpoint@v2:OS`", graph="`userAgent.platform`"),
    "Endpoint.cpu": F("processor name", qoe="`Endpoint@v2:CPUName`"),
    "Endpoint.ip_address": F(
        "the endpoint's own IP address",
        "full IP address",
        qoe="`LocalAddr/IPAddr`",
        graph="`callerNetwork`/`calleeNetwork` `.ipAddress`",
    ),
    "Endpoint.port": F(
        "the endpoint's media port", qoe="`LocalAddr/Port`", graph="network `.port`"
    ),
    "Endpoint.subnet": F(
        "network address of the endpoint's subnet",
        qoe="derived: `IPAddr` masked by `SubnetMask`",
        graph="network `.subnet`",
    ),
    "Endpoint.subnet_mask": F("subnet mask", qoe="`LocalAddr/SubnetMask`"),
    "Endpoint.mac_address": F(
        "network adapter address",
        "MAC address",
        qoe="`LocalAddr/v2:MACAddr`",
        graph="network `.macAddress`",
    ),
    "Endpoint.connection_type": F(
        "wired, wifi or other",
        qoe="`NetworkConnectivityInfo/NetworkConnection` (or `v3:NetworkConnectionDetails`)",
        graph="network `.connectionType`",
    ),
    "Endpoint.vpn": F("connected over VPN", qoe="`NetworkConnectivityInfo/VPN`"),
    "Endpoint.inside": F(
        "inside the corporate network, as the client saw it", qoe="`LocalAddr/Inside`"
    ),
    "Endpoint.bssid": F(
        "wireless access point address",
        "BSSID",
        qoe="`NetworkConnectivityInfo/v2:BSSID`",
        graph="network `.basicServiceSetIdentifier`",
    ),
    "Endpoint.ssid": F("wireless network name", qoe="`Description/v4:SSID` (hex, decoded)"),
    "Endpoint.dns_suffix": F("DNS suffix of the network", graph="network `.dnsSuffix`"),
    "Endpoint.link_speed_bps": F(
        "link speed", qoe="`NetworkConnectivityInfo/LinkSpeed`", graph="network `.linkSpeed`"
    ),
    "Endpoint.wifi_radio_type": F(
        "wifi radio type", qoe="`Description/v4:WifiRadioType`", graph="network `.wifiRadioType`"
    ),
    "Endpoint.wifi_signal_strength": F(
        "wifi signal strength",
        qoe="`Description/v4:WifiRSSI`",
        graph="network `.wifiSignalStrength`",
    ),
    "Endpoint.wifi_channel": F(
        "wifi channel (gives the band)",
        qoe="`Description/v4:WifiChannel`",
        graph="network `.wifiChannel`",
    ),
    "Endpoint.wifi_band": F("wifi band", graph="network `.wifiBand`"),
    "Endpoint.product_family": F(
        "client product (teams, skypeForBusiness, lync)", graph="`userAgent.productFamily`"
    ),
    "Endpoint.platform": F(
        "client platform (windows, android, web, ipPhone, ...)", graph="`userAgent.platform`"
    ),
    "Endpoint.feedback_rating": F(
        "Rate My Call rating the user gave (the verbatim text is not kept)",
        graph="endpoint `.feedback.rating`",
    ),
    "Endpoint.feedback_tokens": F(
        "Rate My Call feedback tokens set to true", graph="endpoint `.feedback.tokens`"
    ),
    "Endpoint.capture_device": F(
        "microphone / camera name", qoe="`CaptureDev/Name`", graph="device `.captureDeviceName`"
    ),
    "Endpoint.capture_driver": F(
        "capture device driver", qoe="`CaptureDev/Driver`", graph="device `.captureDeviceDriver`"
    ),
    "Endpoint.render_device": F(
        "speaker / headset name", qoe="`RenderDev/Name`", graph="device `.renderDeviceName`"
    ),
    "Endpoint.render_driver": F(
        "render device driver", qoe="`RenderDev/Driver`", graph="device `.renderDeviceDriver`"
    ),
    "Endpoint.device_ratios": F(
        "client event ratios (device not functioning, ...)",
        qoe="every child of `v2:LocalClientEvent` / "
        "`v2:RemoteClientEvent` (worst over the media lines)",
        graph="device `.captureNotFunctioningEventRatio`, `.renderNotFunctioningEventRatio`",
    ),
    "Endpoint.device_flags": F("yellow/red flags of those ratios (classifier)"),
    # Session: one media connection between two endpoints
    "Session.id": F(
        "stable session id",
        qoe="derived: `DialogInfo@CallId` + tags",
        cdr="derived: `callId` + `fromTag` + `toTag`",
        graph="`sessions[].id`",
    ),
    "Session.sip_call_id": F("SIP Call-ID", qoe="`DialogInfo@CallId`", cdr="`callId`"),
    "Session.from_tag": F("SIP From tag", qoe="`DialogInfo@FromTag`", cdr="`fromTag`"),
    "Session.to_tag": F("SIP To tag", qoe="`DialogInfo@ToTag`", cdr="`toTag`"),
    "Session.start": F(
        "session start (UTC)",
        qoe="`DialogInfo@Start`",
        cdr="`responseTime` when answered (200), else `inviteTime`",
        graph="`startDateTime`",
    ),
    "Session.end": F(
        "session end (UTC)", qoe="`DialogInfo@End`", cdr="`endTime`", graph="`endDateTime`"
    ),
    "Session.invite_time": F("time of the INVITE", cdr="`inviteTime`"),
    "Session.response_time": F("time of the final response", cdr="`responseTime`"),
    "Session.response_code": F("SIP response code", cdr="`responseCode`"),
    "Session.diagnostic_id": F("ms-diagnostics code", cdr="`diagnosticId`"),
    "Session.failure_stage": F(
        "where a Teams session failed", graph="session or segment `failureInfo.stage`"
    ),
    "Session.failure_reason": F("why it failed", graph="`failureInfo.reason`"),
    "Session.media_types": F(
        "media of the session",
        qoe="derived from the media lines",
        cdr="`mediaTypes`",
        graph="`modalities`",
    ),
    "Session.caller": F("the calling endpoint (table Endpoint)"),
    "Session.callee": F("the called endpoint (table Endpoint)"),
    "Session.streams": F("the media streams (table Stream)"),
    "Session.has_qoe": F("a final QoE report (or Graph audio metrics) arrived"),
    "Session.rating": F("good / poor / unavailable (classifier)"),
    "Session.reasons": F("why poor: callSetup, audioNetwork, device (classifier)"),
    "Session.reason_metrics": F("the metrics behind each reason (classifier)"),
    "Session.pstn": F(
        "a PSTN / Direct Routing log row's own facts (table PstnDetail)",
        pstn="`pstnCallLogRow` / `directRoutingLogRow`",
    ),
    # PstnDetail: Graph PSTN and Direct Routing log rows (getPstnCalls, getDirectRoutingCalls);
    # the numbers are not here: they are the endpoints' `tel:` URIs, masked like any other.
    "PstnDetail.log_type": F("pstn or directRouting (which log the row came from)"),
    "PstnDetail.call_type": F("the row's call type (e.g. ucap_out, ByotIn)", pstn="`callType`"),
    "PstnDetail.trunk_fqdn": F(
        "the Direct Routing trunk (SBC) FQDN", pstn="`trunkFullyQualifiedDomainName`"
    ),
    "PstnDetail.final_sip_code": F("final SIP response code", pstn="`finalSipCode`"),
    "PstnDetail.final_sip_phrase": F("its phrase", pstn="`finalSipCodePhrase`"),
    "PstnDetail.call_end_sub_reason": F("Microsoft's sub-reason code", pstn="`callEndSubReason`"),
    "PstnDetail.media_bypass": F("media bypass on the trunk", pstn="`mediaBypassEnabled`"),
    "PstnDetail.duration_s": F("call duration in seconds", pstn="`duration`"),
    "PstnDetail.successful": F(
        "the call connected (from `successfulCall`, else SIP 200 or a duration)",
        pstn="`successfulCall`",
    ),
    # Stream: one direction of one media line, seen from the receiving side
    "Stream.id": F("`{label}:{direction}` (+ `@{segment}` for multi-segment Graph sessions)"),
    "Stream.label": F("media line label", qoe="`MediaLine@Label`", graph="`media.label`"),
    "Stream.media_type": F(
        "audio, video, vbss, appsharing or data",
        qoe="derived from `Payload/*` and the label",
        graph="derived from `media.label`",
    ),
    "Stream.direction": F(
        "callerToCallee or calleeToCaller",
        qoe="derived: the reporter's `InboundStream`",
        graph="`streams[].streamDirection`",
    ),
    "Stream.ice": F("ICE connectivity result", qoe="`Description/Connectivity/Ice`"),
    "Stream.transport": F("TCP or UDP", qoe="`Description/Transport`", graph="network `.protocol`"),
    "Stream.relay": F(
        "media went through a relay",
        qoe="`Connectivity/Ice` = RELAY",
        graph="network `.relayIPAddress` present",
    ),
    "Stream.source_format": F("record format the stream came from (picks the audio profile)"),
    "Stream.segment_id": F("Graph segment id", graph="`segments[].id`"),
    "Stream.stream_id": F("Graph stream id", graph="`media[].streams[].streamId`"),
    "Stream.metrics": F("normalised metrics (table StreamMetrics)"),
    "Stream.quality": F("classification (table StreamQuality)"),
    # StreamMetrics: QoE from the receiver's InboundStream unless said; Graph streams[]
    "StreamMetrics.jitter_ms": F(
        "average jitter, ms", qoe="`Network/Jitter/InterArrival`", graph="`averageJitter`"
    ),
    "StreamMetrics.jitter_max_ms": F(
        "maximum jitter, ms", qoe="`InterArrivalMax`", graph="`maxJitter`"
    ),
    "StreamMetrics.packet_loss_rate": F(
        "average packet loss, fraction",
        qoe="`Network/PacketLoss/LossRate`",
        graph="`averagePacketLossRate`",
    ),
    "StreamMetrics.packet_loss_rate_max": F(
        "maximum packet loss", qoe="`LossRateMax`", graph="`maxPacketLossRate`"
    ),
    "StreamMetrics.round_trip_ms": F(
        "average round trip, ms",
        qoe="`OutboundStream/Network/Delay/RoundTrip`",
        graph="`averageRoundTripTime`",
    ),
    "StreamMetrics.round_trip_max_ms": F(
        "maximum round trip, ms", qoe="`RoundTripMax`", graph="`maxRoundTripTime`"
    ),
    "StreamMetrics.degradation_avg": F(
        "network MOS degradation",
        qoe="`QualityEstimates/Audio/NetworkMOS/DegradationAvg`",
        graph="`averageAudioDegradation`",
    ),
    "StreamMetrics.concealed_ratio_avg": F(
        "ratio of concealed samples",
        qoe="`Network/v2:RatioConcealedSamplesAvg`",
        graph="`averageRatioOfConcealedSamples`",
    ),
    "StreamMetrics.packet_utilization": F(
        "packets", qoe="`Network/Utilization/Packets`", graph="`packetUtilization`"
    ),
    "StreamMetrics.post_fec_plr_audio": F(
        "audio loss after FEC",
        qoe="`Payload/Audio/v3:AudioPostFECPLR`",
        graph="`postForwardErrorCorrectionPacketLossRate`",
    ),
    "StreamMetrics.video_frame_loss_pct": F(
        "video frame loss, %",
        qoe="`Payload/Video/VideoFrameLossRate` x 100",
        graph="`averageVideoFrameLossPercentage`",
    ),
    "StreamMetrics.video_frame_rate_avg": F(
        "video frame rate, fps",
        qoe="`Payload/Video/VideoFrameRateAvg`",
        graph="`averageVideoFrameRate`",
    ),
    "StreamMetrics.video_post_fec_plr": F(
        "video loss after FEC",
        qoe="`Payload/Video/VideoPostFECPLR` (when sent)",
        graph="`postForwardErrorCorrectionPacketLossRate`",
    ),
    "StreamMetrics.spoiled_tile_pct": F(
        "app sharing spoiled tiles, %", qoe="`Payload/ApplicationSharing/SpoiledTilePercent/Total`"
    ),
    "StreamMetrics.rdp_tile_latency_ms": F(
        "RDP tile processing latency, ms", qoe="`.../RDPTileProcessingLatency/Average`"
    ),
    "StreamMetrics.relative_one_way_s": F(
        "relative one-way delay, s", qoe="`Network/Delay/v3:RelativeOneWay/v3:Average`"
    ),
    "StreamMetrics.codec": F(
        "codec", qoe="`Payload/*/PayloadDescription`", graph="`audioCodec` / `videoCodec`"
    ),
    "StreamMetrics.resolution": F("video resolution", qoe="`Payload/Video/Resolution`"),
    # StreamQuality: computed by the classifier
    "StreamQuality.rating": F("Good / Poor / Unclassified"),
    "StreamQuality.poor_due_to": F("the metrics that made it poor"),
    "StreamQuality.unclassified_reason": F("metrics missing, connectivity failed, ..."),
    "StreamQuality.flags": F("yellow / red flag per metric"),
    "StreamQuality.profile": F("audio profile used (sfb2019, teams2021)"),
    # Participant and CallView: the folded, classified call
    "Participant.uri": F("a participant's address", "SIP URI, UPN or phone number"),
    "Participant.display_name": F("a participant's name", "name"),
    "Participant.kind": F("user, phone, guest, server, unknown"),
    "CallView.call_type": F("peerToPeer, conference or pstn (derived)"),
    "CallView.conference_uri": F(
        "the meeting's address",
        "holds the organiser's SIP URI",
        qoe="`DialogInfo/ConfURI`",
        cdr="`conferenceUri`",
        graph="`joinWebUrl` (group calls)",
    ),
    "CallView.organizer": F(
        "who set up the call or meeting",
        "SIP URI / UPN",
        qoe="the caller's `FromURI` / `ToURI` (peer-to-peer)",
        cdr="`user1Uri` (peer-to-peer)",
        graph="`organizer_v2` / `organizer`",
    ),
    "CallView.start": F("call start (earliest session)"),
    "CallView.end": F("call end (latest session)"),
    "CallView.duration_s": F("call duration"),
    "CallView.participants": F("everyone in the call (table Participant)"),
    "CallView.sessions": F("the merged sessions (table Session)"),
    "CallView.rating": F("good / poor / unavailable"),
    "CallView.reasons": F("union of the sessions' reasons"),
    "CallView.sources": F("record formats the call was built from"),
    "CallView.source_ids": F("the ids each source record named the call by (table SourceIds)"),
    "SourceIds.source_format": F("the record format"),
    "SourceIds.record_id": F("the record's identity inside the product"),
    "SourceIds.call_record_id": F("Graph callRecord id", graph="`id`"),
    "SourceIds.version": F("Graph callRecord version", graph="`version`"),
    "SourceIds.session_ids": F("Graph session ids", graph="`sessions[].id`"),
    "SourceIds.segment_ids": F("Graph segment ids", graph="`sessions[].segments[].id`"),
    "SourceIds.stream_ids": F("Graph stream ids", graph="`media[].streams[].streamId`"),
    "SourceIds.sip_call_id": F(
        "SIP Call-ID of the dialog", qoe="`DialogInfo@CallId`", cdr="`callId`"
    ),
    "SourceIds.from_tag": F("SIP From tag", qoe="`DialogInfo@FromTag`", cdr="`fromTag`"),
    "SourceIds.to_tag": F("SIP To tag", qoe="`DialogInfo@ToTag`", cdr="`toTag`"),
    "SourceIds.conference_uri": F(
        "the meeting's focus URI or join URL",
        "names the organizer",
        qoe="`DialogInfo/ConfURI`",
        cdr="`conferenceUri`",
        graph="`joinWebUrl`",
    ),
    "SourceIds.report_id": F("the QoE report's own id", qoe="`VQSessionReport@SessionId`"),
    "SourceIds.cdr_session": F("the CDR session's identity", cdr="`sessionIdTime`:`sessionIdSeq`"),
    # Fragment: what one record contributed, kept so the call can be re-folded
    "Fragment.fragment_id": F("content hash of the record (a duplicate is the same key)"),
    "Fragment.record_id": F(
        "identity of the source record",
        qoe="derived: Call-ID + tags + reporting side",
        cdr="derived: `sessionIdTime` + `sessionIdSeq`",
        graph="`id`",
    ),
    "Fragment.source_format": F("ms-qoe-xml, sfb-cdr-json or graph-v1"),
    "Fragment.key": F(
        "which call the record belongs to",
        "a meeting's key holds its ConfURI",
        qoe="derived: `ConfURI` or Call-ID",
        cdr="derived: `conferenceUri` or `callId`",
        graph="derived: `id`",
    ),
    "Fragment.version": F("record version (a newer one replaces an older)", graph="`version`"),
    "Fragment.modified": F(
        "when Graph last changed the record (a later one of the same version replaces)",
        graph="`lastModifiedDateTime`",
    ),
    "Fragment.participants": F(
        "the record's own participant list (table Participant)",
        "SIP URI, UPN or phone number; name",
        graph="`participants_v2` (else the deprecated `participants`)",
    ),
    "Fragment.report_id": F("the QoE report's own id", qoe="`VQSessionReport@SessionId`"),
    "Fragment.call_type": F("as CallView.call_type", graph="`type`"),
    "Fragment.conference_uri": F("as CallView.conference_uri", "holds the organiser's SIP URI"),
    "Fragment.organizer": F("as CallView.organizer", "SIP URI / UPN"),
    "Fragment.start": F("as the record says", graph="`startDateTime`"),
    "Fragment.end": F("as the record says", graph="`endDateTime`"),
    "Fragment.sessions": F("the record's sessions (table Session)"),
    # CallDocument: the stored item
    "CallDocument.id": F("call id (hash of tenant and key)"),
    "CallDocument.pk": F("partition key `{tenantId}|{id}`"),
    "CallDocument.tenantId": F("Entra tenant ID"),
    "CallDocument.key": F("as Fragment.key", "a meeting's key holds its ConfURI"),
    "CallDocument.fragments": F("every record's contribution (table Fragment)"),
    "CallDocument.view": F("the classified call the API serves (table CallView)"),
    "CallDocument.revision": F("count of committed writes (history entries follow the latest)"),
    "CallDocument.updatedAt": F("last change"),
    "CallDocument.ttl": F("seconds to expiry (retention)"),
}

# Where each stored model sits in the call-detail response, for its visibility column.
# None: the model is stored but never part of any API response.
DETAIL_PATHS: dict[str, str | None] = {
    "CallView": "",
    "Participant": "participants[].",
    "Session": "sessions[].",
    "Endpoint": "sessions[].caller.",
    "Stream": "sessions[].streams[].",
    "StreamMetrics": "sessions[].streams[].metrics.",
    "StreamQuality": "sessions[].streams[].quality.",
    "SourceIds": "sourceIds[].",
    "Fragment": None,
    "CallDocument": None,
}
# stored name -> response path ("" = the response itself)
DETAIL_RENAMES = {"CallDocument.id": "callId", "CallDocument.view": ""}

# ----------------------------------------------------------------- what sources send

ENVELOPE_FIELDS: dict[str, F] = {
    "BatchEnvelope.schemaVersion": F("envelope version; checked, then dropped"),
    "BatchEnvelope.batchId": F("the sender's idempotency key; kept in the batch status"),
    "BatchEnvelope.tenantId": F("must equal the token's tenant; partitions everything"),
    "BatchEnvelope.source": F("the sending server (table below); kept in the batch status"),
    "BatchEnvelope.sentAt": F("when the agent built the batch; kept in the batch status"),
    "BatchEnvelope.records": F(
        "the records; parsed into call documents, never stored "
        "verbatim outside the raw batch blob and quarantine"
    ),
    "Source.type": F("sfb-server, teams-graph or other"),
    "Source.fqdn": F("the sending server's FQDN (also in metrics: `sourceServer`)"),
    "Source.pool": F("its pool"),
    "Source.site": F("its site"),
    "Source.version": F("its Skype for Business Server version"),
    "Record.kind": F("qoe, cdr or callRecord"),
    "Record.format": F("ms-qoe-xml, sfb-cdr-json or graph-v1"),
    "Record.data": F(
        "the record itself (the sources below)",
        "holds the users' addresses, names and network details",
    ),
}

# Source elements that are uploaded but never stored (beyond the raw batch blob).
QOE_NOT_STORED: dict[str, F] = {
    "`DialogInfo/LocalContactURI`, `RemoteContactURI`": F(
        "read by the agent for the exclusion policy only", "SIP URI"
    ),
    "`DialogInfo/LocalPAI`, `RemotePAI`": F(
        "read by the agent for the exclusion policy only", "SIP URI / phone number"
    ),
    "`Description/RemoteAddr/IPAddr`, `Port`": F(
        "the other side's address: each side's own report is the one kept", "full IP address"
    ),
    "`DialogInfo/CorrelationID`, `v2:MediationServerBypassFlag`": F("not used"),
    "`Endpoint@v2:VirtualizationFlag`": F("not used"),
    "`Payload/Video/VideoPacketLossRate`, `BurstDensity`, other metrics": F(
        "not used by the classifier or the reports"
    ),
    "`VQSessionIntervalReport` metrics": F(
        "mid-call reports link the call but their metrics are dropped, so a partial "
        "interval never overrides the final report"
    ),
}
CDR_NOTES: dict[str, str] = {
    "sessionIdTime": "part of the record id (`Fragment.record_id`)",
    "sessionIdSeq": "part of the record id (`Fragment.record_id`)",
    "correlationId": "dropped after validation",
    "isConference": "decides the call key (meeting or peer-to-peer); not stored",
}
CDR_EUII = {
    "user1Uri": "SIP URI / phone number",
    "user2Uri": "SIP URI / phone number",
    "user1DisplayName": "name",
    "user2DisplayName": "name",
    "conferenceUri": "holds the organiser's SIP URI",
}
GRAPH_NOT_STORED: dict[str, F] = {
    "`participants_v2` of a record that has them: the deprecated `participants`": F(
        "not read", "UPNs, names"
    ),
    "`participants_v2[].administrativeUnitInfos`": F("not read"),
    "`modalities` (call level)": F("not used"),
    "session `caller`/`callee` `feedback`": F("user feedback: not read", "verbatim feedback"),
    "network `reflexiveIPAddress`, `relayIPAddress`, `relayPort`": F("not read", "full IP address"),
    "network `wifiChannel`, `wifiBand`, `wifiVendorDriver`, ...": F("not read"),
    "device event ratios other than capture/render not functioning": F("not read"),
    "`joinWebUrl` of a peer-to-peer call": F("not read (kept for group calls only)"),
}

# -------------------------------------------------------------- other stored documents

# (module, function names whose dict literals are the document, or a builder call)
DOC_KEYS: dict[str, dict[str, F]] = {
    "userCalls": {
        "id": F("call id"),
        "pk": F("`{tenantId}|{user}`", "holds the UPN"),
        "tenantId": F("tenant"),
        "user": F("the internal user", "UPN"),
        "displayName": F("their name", "name"),
        "callId": F("call id"),
        "callType": F("peerToPeer, conference, pstn"),
        "start": F("start"),
        "end": F("end"),
        "durationS": F("duration"),
        "rating": F("good / poor / unavailable"),
        "reasons": F("poor reasons"),
        "participantCount": F("how many took part"),
        "participants": F(
            "the first 50 addresses (engineer/admin only; `participantCount` counts all)",
            "SIP URIs, phone numbers",
        ),
        "ownSessionIds": F("the user's own sessions"),
        "callRevision": F("the call revision the entry was built from"),
        "updatedAt": F("last change"),
    },
    "sourceIndex": {
        "id": F("`src|{sha256 of the normalised source id}`: the id itself is not kept"),
        "pk": F("`{tenantId}|src|{sha256}`: one partition per id, a point read"),
        "type": F("`sourceId`"),
        "callIds": F("the calls that carry the id"),
    },
    "directory": {
        "id": F("`user|{upn}`", "holds the UPN"),
        "tenantId": F("tenant"),
        "type": F("`user`"),
        "user": F("UPN", "UPN"),
        "sipUri": F("SIP URI", "SIP URI"),
        "displayName": F("name", "name"),
        "nameLower": F("name, for search", "name"),
        "lastSeen": F("last call seen"),
        "ttl": F("expires with the user's last call"),
    },
    "batches": {
        "id": F("batch id"),
        "batchId": F("batch id"),
        "tenantId": F("tenant"),
        "status": F("accepted ... completed / failed"),
        "contentHash": F("idempotency hash"),
        "records": F("records posted"),
        "receivedAt": F("time received"),
        "blobName": F("raw batch blob name"),
        "source": F("the envelope's source"),
        "sourceFqdn": F("sending server"),
        "sentAt": F("the envelope's sentAt"),
        "attempts": F("processing attempts"),
        "ttl": F("retention"),
        "received": F("count"),
        "stored": F("count"),
        "excluded": F("count"),
        "quarantined": F("count"),
        "calls": F("count"),
        "errors": F("first 100 `{index, reason}` of quarantined records"),
        "completedAt": F("time finished"),
        "lastError": F("last failed attempt's error"),
        "startedAt": F("time the attempt began"),
        "failure": F("why the batch failed"),
        "poisonBlob": F("where the failed batch was kept"),
    },
    "audit": {
        "id": F("record id"),
        "pk": F("`{tenantId}|{yyyy-mm}`"),
        "tenantId": F("tenant"),
        "at": F("when"),
        "action": F("which read (search, history, detail)"),
        "actorId": F("the reader's Entra object ID", "object ID"),
        "actorName": F("the reader's name", "name"),
        "level": F("the reader's level"),
        "targetUser": F("whose data was read", "UPN"),
        "callId": F("which call"),
        "ttl": F("retention"),
    },
    "buildings": {
        "id": F(
            "`buildings` (pointer), `buildings|upload|{upload}` (a kept upload) or "
            "`buildings|{upload}|{n}` (chunk)"
        ),
        "tenantId": F("tenant"),
        "type": F("`buildings`, `buildingUpload` or `buildingChunk`"),
        "validFrom": F("first day the upload labels (none: every day)"),
        "timeline": F("which upload labels the days from which start"),
        "uploadId": F("which upload"),
        "n": F("chunk number"),
        "data": F("gzip+base64 rows of the building file (table below)"),
        "chunks": F("how many chunks (the pointer also holds the counts `rows`, `buildings`)"),
        "uploadedAt": F("when"),
        "uploadedBy": F("who uploaded it (the admin's sign-in name)", "UPN"),
    },
    "topology": {
        "id": F("`topology`"),
        "tenantId": F("tenant"),
        "type": F("`topology`"),
        "version": F("upload count"),
        "topology": F("sites, pools, gateways (table below)"),
        "uploadedAt": F("when"),
        "uploadedBy": F(
            "who uploaded it (an admin's sign-in name, or the agent's app id)",
            "UPN (when an admin uploads)",
        ),
    },
    "quarantine": {
        "tenantId": F("tenant"),
        "batchId": F("batch"),
        "index": F("record index"),
        "reason": F("why it was rejected"),
        "record": F("the rejected record, verbatim", "everything the record holds"),
    },
    "poison": {
        "tenantId": F("tenant"),
        "batchId": F("batch"),
        "reason": F("why it failed"),
        "attempts": F("attempts made"),
        "at": F("when"),
    },
}
SETTINGS_FIELDS: dict[str, F] = {
    "TenantSettings.tenantId": F("tenant"),
    "TenantSettings.classifierProfile": F("audio classifier profile, or the default"),
    "TenantSettings.exclusions": F("the exclusion policy (below)"),
    "TenantSettings.classification": F(
        "an admin's classifier profile per source, yellow tiers and retention days"
    ),
    "TenantSettings.updatedAt": F("when an admin last changed those"),
    "TenantSettings.updatedBy": F("who changed them (name, else object or app id)", "UPN"),
    "ExclusionPolicy.users": F("users whose data stays on premises", "SIP URIs / UPNs"),
    "ExclusionPolicy.domains": F("domains whose data stays on premises"),
}
REFERENCE_FIELDS: dict[str, F] = {
    "BuildingRow.row": F("line number in the uploaded file"),
    "BuildingRow.network_ip": F("NetworkIP"),
    "BuildingRow.prefix": F("NetworkRange"),
    "BuildingRow.network_name": F("NetworkName"),
    "BuildingRow.building_name": F("BuildingName"),
    "BuildingRow.ownership_type": F("OwnershipType"),
    "BuildingRow.building_type": F("BuildingType"),
    "BuildingRow.building_office_type": F("BuildingOfficeType"),
    "BuildingRow.city": F("City"),
    "BuildingRow.zip_code": F("ZipCode"),
    "BuildingRow.country": F("Country"),
    "BuildingRow.state": F("State"),
    "BuildingRow.region": F("Region"),
    "BuildingRow.inside_corp": F("InsideCorp"),
    "BuildingRow.express_route": F("ExpressRoute"),
    "BuildingRow.vpn": F("VPN"),
    "Pool.fqdn": F("pool FQDN"),
    "Pool.roles": F("frontEnd, edge, mediation"),
    "Pool.site": F("site name"),
    "Pool.servers": F("member server FQDNs"),
    "Gateway.fqdn": F("PSTN gateway FQDN"),
    "Gateway.site": F("site name"),
    "Gateway.mediation_pool": F("its mediation pool"),
}
BLOB_RETENTION: dict[str, str] = {
    "incoming": "raw batches as posted (gzip): deleted by the processor when the batch "
    "completes or is poisoned; a lifecycle rule deletes anything left after "
    "7 days (Azure); soft delete keeps deleted blobs 7 more days",
    "quarantine": "rejected records with their reason: kept until an admin deletes them "
    "(no expiry yet)",
    "poison": "batches that failed every attempt, with `.reason.json`: kept until an "
    "admin deletes or re-queues them (no expiry yet)",
    "audit": "created, not written by the current code (the audit log is the Cosmos DB "
    "`audit` container)",
}


# ------------------------------------------------------------------------ generation


def _cell(text: str) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def model_fields(model: type[Any]) -> list[str]:
    """Field names of a pydantic model or a dataclass, in declaration order."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    if dataclasses.is_dataclass(model):
        return [f.name for f in dataclasses.fields(model)]
    raise TypeError(f"{model!r} is neither a pydantic model nor a dataclass")


def described(models: Iterable[type[Any]], docs: dict[str, F]) -> list[tuple[str, str, F]]:
    """(model, field, declaration) for every field; MissingDoc names any undescribed."""
    out, missing = [], []
    for m in models:
        for name in model_fields(m):
            key = f"{m.__name__}.{name}"
            if key in docs:
                out.append((m.__name__, name, docs[key]))
            else:
                missing.append(key)
    if missing:
        raise MissingDoc(
            "not described in tools/datadoc.py (say what each is, whether it "
            "is EUII and where it comes from): " + ", ".join(missing)
        )
    return out


def _call_models() -> list[type[BaseModel]]:
    from shared.models import call

    return [
        call.CallDocument,
        call.Fragment,
        call.CallView,
        call.Participant,
        call.Session,
        call.Endpoint,
        call.Stream,
        call.StreamMetrics,
        call.StreamQuality,
        call.SourceIds,
        call.PstnDetail,
    ]


def visibility(model: str, field: str, classes: Mapping[str, str] | None = None) -> str:
    """Who receives a call-detail field, from the API's own classification."""
    if classes is None:
        from shared.analytics.visibility import FIELD_CLASSES

        classes = dict(FIELD_CLASSES)
    prefix = DETAIL_PATHS.get(model)
    key = f"{model}.{field}"
    if prefix is None and key not in DETAIL_RENAMES:
        return "never in a response"
    from shared.analytics.visibility import api_path

    path = DETAIL_RENAMES.get(key, api_path(f"{prefix}{field}"))
    if path == "":
        return "is the call-detail response, projected per level"
    if model == "StreamMetrics":  # shown or hidden whole with its parent
        path = "sessions[].streams[].metrics"
    if model == "SourceIds":
        path = "sourceIds"
    cls = classes.get(path)
    if cls == "basic":
        return "all levels"
    if cls == "identity":
        return "searched user's own; others anonymised for a specialist"
    if cls in ("advanced", "debug"):
        return f"engineer, admin ({cls}); never a specialist"
    return "engineer, admin; never a specialist (not classified)"


def call_document_tables(
    models: list[type[BaseModel]] | None = None, classes: Mapping[str, str] | None = None
) -> str:
    models = models or _call_models()
    rows = described(models, CALL_FIELDS)
    parts = []
    for m in models:
        parts.append(f"**{m.__name__}**\n")
        parts.append(
            _table(
                ["field", "what", "EUII", "Call Analytics", "from QoE", "from CDR", "from Graph"],
                [
                    [
                        f"`{name}`",
                        d.what,
                        d.euii or "no",
                        visibility(mn, name, classes),
                        d.qoe or "-",
                        d.cdr or "-",
                        d.graph or (f"PSTN log row {d.pstn}" if d.pstn else "-"),
                    ]
                    for mn, name, d in rows
                    if mn == m.__name__
                ],
            )
        )
        parts.append("")
    return "\n".join(parts).rstrip()


def envelope_table() -> str:
    from shared.models.envelope import BatchEnvelope, Record, Source

    rows = described([BatchEnvelope, Source, Record], ENVELOPE_FIELDS)
    return _table(
        ["field", "EUII", "what becomes of it"],
        [[f"`{m}.{n}`", d.euii or "no", d.what] for m, n, d in rows],
    )


def _stored_from(source: str) -> list[list[str]]:
    rows = described(_call_models(), CALL_FIELDS)
    out = []
    for m, n, d in rows:
        src = getattr(d, source)
        if src and m not in ("Fragment", "CallDocument"):  # listed once, on the view
            kind = "derived" if src.startswith("derived") else "stored"
            out.append([src, f"`{m}.{n}`", kind, d.euii or "no"])
    return out


def qoe_table() -> str:
    rows = _stored_from("qoe")
    rows += [[el, "-", "dropped: " + d.what, d.euii or "no"] for el, d in QOE_NOT_STORED.items()]
    return _table(["MS-QoE element", "stored as", "how", "EUII"], rows)


def cdr_table(model: type[BaseModel] | None = None) -> str:
    if model is None:
        from shared.parsing.cdr import SfbCdr

        model = SfbCdr
    rows = described(_call_models(), CALL_FIELDS)
    out, missing = [], []
    for name in model_fields(model):
        targets = [
            f"`{m}.{n}`"
            for m, n, d in rows
            if f"`{name}`" in d.cdr and m not in ("Fragment", "CallDocument")
        ]
        if targets:
            fate = "stored as " + ", ".join(targets)
        elif name in CDR_NOTES:
            fate = CDR_NOTES[name]
        else:
            missing.append(name)
            continue
        out.append([f"`{name}`", fate, CDR_EUII.get(name, "no")])
    if missing:
        raise MissingDoc(
            "sfb-cdr-json fields neither mapped to a stored field nor described "
            "in tools/datadoc.py CDR_NOTES: " + ", ".join(missing)
        )
    return _table(["sfb-cdr-json field", "what becomes of it", "EUII"], out)


def graph_table() -> str:
    rows = _stored_from("graph")
    rows += [[el, "-", "dropped: " + d.what, d.euii or "no"] for el, d in GRAPH_NOT_STORED.items()]
    return _table(["callRecord property", "stored as", "how", "EUII"], rows)


# What a PSTN / Direct Routing log row gives the parts of the call model that every
# source shares (shared/parsing/pstn.py), and what it leaves behind.
PSTN_SHARED: dict[str, tuple[str, F]] = {
    "`id`": ("`Session.id`", F("row id")),
    "`startDateTime`, `endDateTime`": ("`Session.start`, `Session.end`", F("times")),
    "`finalSipCode`": ("`Session.response_code`", F("SIP code")),
    "`finalSipCodePhrase` (failed calls)": ("`Session.failure_reason`", F("why it failed")),
    "`userPrincipalName`": ("`Endpoint.uri` (as `sip:`)", F("the Teams user", "UPN")),
    "`userDisplayName`": ("`Endpoint.display_name`", F("their name", "name")),
    "`callerNumber` (inbound) / `calleeNumber` (outbound)": (
        "`Endpoint.uri` (as `tel:`; masked for all but admin)",
        F("the other party", "phone number"),
    ),
}
PSTN_NOT_STORED: dict[str, F] = {
    "`logType`": F("read to choose `PstnDetail.log_type`, not kept as is"),
    "the user's own number of an outbound / inbound row": F("not read", "phone number"),
    "`userId`, `tenantCountryCode`, `usageCountryCode`, `licenseCapability`, "
    "`charge`, `currency`, `destinationContext`, `destinationName`, `conferenceId`, "
    "`operator`, `inventoryType`, `callId`, `correlationId`, `signalingLocation` and "
    "the other properties": F("not read", "object ID (userId)"),
}


def pstn_table() -> str:
    rows = [
        [d.pstn, f"`{m}.{n}`", "stored", d.euii or "no"]
        for m, n, d in described(_call_models(), CALL_FIELDS)
        if d.pstn and m == "PstnDetail"
    ]
    rows += [[el, where, "stored", d.euii or "no"] for el, (where, d) in PSTN_SHARED.items()]
    rows += [[el, "-", "dropped: " + d.what, d.euii or "no"] for el, d in PSTN_NOT_STORED.items()]
    return _table(["log row property", "stored as", "how", "EUII"], rows)


def _dict_keys(path: Path, functions: set[str], callees: set[str] | None = None) -> list[str]:
    """String keys of the dict literals inside `functions` of a module (only those passed
    to `callees` when given), in source order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    keys: list[str] = []

    def take(node: ast.AST) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Dict):
                for k in sub.keys:
                    if (
                        isinstance(k, ast.Constant)
                        and isinstance(k.value, str)
                        and k.value not in keys
                    ):
                        keys.append(k.value)

    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) or fn.name not in functions:
            continue
        if callees is None:
            take(fn)
            continue
        for call in ast.walk(fn):
            if isinstance(call, ast.Call):
                name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                if name in callees:
                    for arg in [*call.args, *(kw.value for kw in call.keywords)]:
                        take(arg)
    return keys


def document_keys() -> dict[str, list[str]]:
    """The keys each plain-dict document really has, read from the code that writes it."""
    from shared.models.call import CallDocument, CallView, Participant, Session
    from shared.storage.calls import directory_doc, user_index_docs

    user = "sip:a@example.com"
    sample = CallDocument(
        id="c",
        pk="t|c",
        tenantId="t",
        key="k",
        view=CallView(
            participants=[Participant(uri=user, kind="user")], sessions=[Session(id="s")]
        ),
    )
    entries = user_index_docs(sample)
    batch_fns = {"accept_batch", "_attempt", "_poison"}
    return {
        "userCalls": list(entries[0]) if entries else [],
        "sourceIndex": _dict_keys(
            REPO / "shared" / "storage" / "source_index.py", {"index_source_ids"}
        ),
        "directory": list(directory_doc("t", "a@example.com", None)),
        "batches": _dict_keys(
            REPO / "shared" / "ingest.py", batch_fns, {"create_batch", "update_batch", "save_batch"}
        )
        + _dict_keys(
            REPO / "shared" / "processor.py",
            batch_fns,
            {"create_batch", "update_batch", "save_batch"},
        ),
        "audit": _dict_keys(REPO / "shared" / "analytics" / "audit.py", {"record_read"})
        + _dict_keys(REPO / "shared" / "storage" / "audit.py", {"write_entry"}),
        "buildings": _dict_keys(
            REPO / "shared" / "storage" / "buildings.py", {"save_building_file"}
        ),
        "topology": _dict_keys(REPO / "shared" / "storage" / "topology.py", {"save_topology"}),
        "quarantine": _dict_keys(REPO / "shared" / "processor.py", {"park"}),
        "poison": _dict_keys(REPO / "shared" / "processor.py", {"_poison"}, {"dumps"}),
    }


def stored_documents_table(keys: dict[str, list[str]] | None = None) -> str:
    keys = keys or document_keys()
    where = {
        "userCalls": "Cosmos DB `userCalls` (a user's call history)",
        "sourceIndex": "Cosmos DB `userCalls` (source-id index: find a call by a source's id)",
        "directory": "Cosmos DB `tenants` (directory of users seen, for search)",
        "batches": "Cosmos DB `batches` (batch status)",
        "audit": "Cosmos DB `audit` (who read whose data)",
        "buildings": "Cosmos DB `tenants` (the building file: one pointer, its chunks)",
        "topology": "Cosmos DB `tenants` (the topology item)",
        "quarantine": "Blob `quarantine/{tenant}/{batch}/{index}.json`",
        "poison": "Blob `poison/{blob}.reason.json` (next to the failed batch itself)",
    }
    parts, missing = [], []
    for doc, names in keys.items():
        declared = DOC_KEYS[doc]
        written = set(names)
        missing += [f"{doc}.{k} (written, not described)" for k in names if k not in declared]
        missing += [
            f"{doc}.{k} (described, no longer written)" for k in declared if k not in written
        ]
        rows = [[f"`{k}`", d.what, d.euii or "no"] for k, d in declared.items() if k in written]
        parts += [f"**{where[doc]}**\n", _table(["key", "what", "EUII"], rows), ""]
    if missing:
        raise MissingDoc(
            "tools/datadoc.py DOC_KEYS does not match the code: "
            + ", ".join(dict.fromkeys(missing))
        )
    return "\n".join(parts).rstrip()


def reference_tables() -> str:
    from shared.buildings import BuildingRow
    from shared.storage.tenants import ExclusionPolicy, TenantSettings
    from shared.topology import Gateway, Pool

    settings = described([TenantSettings, ExclusionPolicy], SETTINGS_FIELDS)
    ref = described([BuildingRow, Pool, Gateway], REFERENCE_FIELDS)
    return "\n".join(
        [
            "**Tenant settings** (Cosmos DB `tenants`, item `settings`)\n",
            _table(
                ["field", "what", "EUII"],
                [[f"`{m}.{n}`", d.what, d.euii or "no"] for m, n, d in settings],
            ),
            "",
            "**Building file and topology** (Cosmos DB `tenants`: building chunks + pointer, "
            "one topology item)\n",
            _table(
                ["field", "what (building file column / topology)", "EUII"],
                [[f"`{m}.{n}`", d.what, d.euii or "no"] for m, n, d in ref],
            ),
        ]
    )


def _days(ttl: int | None) -> str:
    if ttl is None:
        return "no TTL"
    if ttl == -1:
        return "only items that carry their own `ttl` expire"
    days = ttl // 86_400
    return f"{days} days" + (" (13 months)" if days == 396 else "")


def retention_table() -> str:
    from shared.storage import layout

    missing = [b for b in layout.BLOB_CONTAINERS if b not in BLOB_RETENTION]
    if missing:
        raise MissingDoc(
            "blob containers without a retention statement in "
            "tools/datadoc.py BLOB_RETENTION: " + ", ".join(missing)
        )
    rows = [
        [f"Cosmos DB `{c.name}`", f"`{c.partition_key}`", _days(c.default_ttl)]
        for c in layout.COSMOS_CONTAINERS
    ]
    rows += [[f"Blob `{b}`", "-", BLOB_RETENTION[b]] for b in layout.BLOB_CONTAINERS]
    return _table(["container", "partition key", "retention"], rows)


def specialist_never_list(classes: Mapping[str, str] | None = None) -> str:
    if classes is None:
        from shared.analytics.visibility import FIELD_CLASSES

        classes = dict(FIELD_CLASSES)
    hidden = sorted(p for p, c in classes.items() if c in ("advanced", "debug"))
    rows = [[f"`{p}`", classes[p]] for p in hidden]
    return _table(["call-detail field (absent from a specialist's response)", "class"], rows)


def telemetry_list() -> str:
    names = []
    nodes = [
        node
        for path in sorted((REPO / "shared" / "telemetry").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    ]
    for node in nodes:
        if (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("cdc.")
            and (getattr(node.func, "attr", "") or getattr(node.func, "id", "")).startswith(
                "create_"
            )
        ):
            names.append(node.args[0].value)
    return "\n".join(f"- `{n}`" for n in sorted(set(names)))


GENERATORS: dict[str, Callable[[], str]] = {
    "envelope": envelope_table,
    "qoe": qoe_table,
    "cdr": cdr_table,
    "graph": graph_table,
    "pstn": pstn_table,
    "call-document": call_document_tables,
    "stored-documents": stored_documents_table,
    "reference": reference_tables,
    "retention": retention_table,
    "specialist-never": specialist_never_list,
    "telemetry": telemetry_list,
}


def render(text: str) -> str:
    """`text` with every marked block regenerated; unknown or missing blocks fail."""
    found: set[str] = set()

    def sub(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in GENERATORS:
            raise MissingDoc(f"no generator for the block {name!r}")
        found.add(name)
        return f"<!-- datadoc:begin {name} -->\n{GENERATORS[name]()}\n<!-- datadoc:end {name} -->"

    out = MARKER.sub(sub, text)
    absent = sorted(set(GENERATORS) - found)
    if absent:
        raise MissingDoc(f"{DOC.name} lacks the generated block(s): {', '.join(absent)}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.datadoc", description=__doc__.split("\n", 1)[0]
    )
    p.add_argument("--check", action="store_true", help="compare only; exit 1 on a difference")
    p.add_argument("--doc", type=Path, default=DOC)
    args = p.parse_args(argv)
    current = args.doc.read_text(encoding="utf-8")
    wanted = render(current)
    if current == wanted:
        return 0
    if args.check:
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                str(args.doc),
                "generated",
            )
        )
        print(f"\n{args.doc} is out of date: run python -m tools.datadoc", file=sys.stderr)
        return 1
    args.doc.write_text(wanted, encoding="utf-8")
    print(f"{args.doc}: tables regenerated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
