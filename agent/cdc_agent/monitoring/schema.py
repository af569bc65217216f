"""The Monitoring databases' tables the agent reads, as Microsoft documents them.

Sources (Skype for Business Server 2015/2019, Microsoft Learn):
- QoEMetrics: "Quality of Experience (QoE) database schema"
  https://learn.microsoft.com/skypeforbusiness/schema-reference/quality-of-experience-qoe-database-schema/quality-of-experience-qoe-database-schema
- LcsCDR: "Call detail recording (CDR) database schema"
  https://learn.microsoft.com/skypeforbusiness/schema-reference/call-detail-recording-cdr-database-schema/call-detail-recording-cdr-database-schema

Why only these columns: a query names exactly what it reads, so the agent works on any
schema version that has them and the README can say precisely what the SQL login must
be allowed to SELECT. Names and types are the documented ones; where the documentation
gives an obviously wrong type for a foreign key (e.g. `Session.CallerUserAgent` "bit",
`MediaLine.CalleePort` "bit", `MediaLine.CalleeRenderDevDriver` "varchar(256)") the
column is an int like its siblings. The tests create these tables in SQLite (keys
included) and run the real queries against them.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Unicode,
)

qoe_metadata = MetaData()
cdr_metadata = MetaData()


def _num(p: int, s: int) -> Numeric[float]:
    """A documented decimal(p,s), read as float (the report's values are floats)."""
    return Numeric(p, s, asdecimal=False)


def _pk_time(name: str = "ConferenceDateTime") -> Column[object]:
    return Column(name, DateTime, primary_key=True)


# --- QoEMetrics: supporting tables ---------------------------------------------------

qoe_user = Table(
    "User",
    qoe_metadata,
    Column("UserKey", Integer, primary_key=True),
    Column("URI", Unicode(450), unique=True),
    Column("URIType", Integer),
)

qoe_user_agent = Table(
    "UserAgent",
    qoe_metadata,
    Column("UserAgentKey", Integer, primary_key=True),
    Column("UserAgent", Unicode(256), unique=True),
    Column("UAType", SmallInteger),
)

qoe_endpoint = Table(
    "Endpoint",
    qoe_metadata,
    Column("EndpointKey", Integer, primary_key=True),
    Column("Name", Unicode(256), unique=True),
    Column("OS", Unicode(128)),
    Column("CPUName", Unicode(128)),
    Column("CPUNumberOfCores", SmallInteger),
    Column("CPUProcessorSpeed", Integer),
    Column("VirtualizationFlag", SmallInteger),
)

qoe_conference = Table(
    "Conference",
    qoe_metadata,
    Column("ConferenceKey", Integer, primary_key=True),
    Column("ConfURI", Unicode(450), unique=True),
    Column("Checksum", Integer),
)

qoe_dialog = Table(
    "Dialog",
    qoe_metadata,
    _pk_time(),
    Column("SessionSeq", Integer, primary_key=True),
    Column("DialogID", String(256)),
    Column("DialogIDChecksum", Integer, index=True),
)

qoe_ip_address = Table(
    "IPAddress",
    qoe_metadata,
    Column("IPAddressKey", Integer, primary_key=True),
    Column("IPAddress", String(50), unique=True),
)

qoe_mac_address = Table(
    "MacAddress",
    qoe_metadata,
    Column("MacAddressKey", Integer, primary_key=True),
    Column("MacAddress", String(256), unique=True),
)

qoe_device = Table(
    "Device",
    qoe_metadata,
    Column("DeviceKey", Integer, primary_key=True),
    Column("DeviceName", Unicode(256)),
    Column("DeviceType", Boolean),
)  # 1 capture, 0 render

qoe_device_driver = Table(
    "DeviceDriver",
    qoe_metadata,
    Column("DeviceDriverKey", Integer, primary_key=True),
    Column("DeviceDriver", String(256), unique=True),
)

qoe_network_connection_detail = Table(
    "NetworkConnectionDetail",
    qoe_metadata,
    Column("NetworkConnectionDetailKey", SmallInteger, primary_key=True),
    Column("NetworkConnectionDetail", String(256), unique=True),
)

qoe_payload_description = Table(
    "PayloadDescription",
    qoe_metadata,
    Column("PayloadDescriptionKey", Integer, primary_key=True),
    Column("PayloadDescription", Unicode(256), unique=True),
)

# Subnets defined in the network configuration (NCS): the only documented place that
# holds a subnet's mask.
qoe_subnet = Table(
    "Subnet",
    qoe_metadata,
    Column("SubnetIP", Integer, primary_key=True),
    Column("SubnetMask", Integer),
    Column("UserSiteKey", Integer),
    Column("SubnetDescription", Unicode(512)),
)

# --- QoEMetrics: metrics tables --------------------------------------------------------

qoe_session = Table(
    "Session",
    qoe_metadata,
    _pk_time(),
    Column("SessionSeq", Integer, primary_key=True),
    Column("ConferenceKey", Integer),
    Column("CorrelationKey", Integer),
    Column("DialogCategory", Boolean),
    Column("MediationServerBypassFlag", Boolean),
    Column("MediaBypassWarningFlag", Integer),
    Column("StartTime", DateTime),
    Column("EndTime", DateTime),
    Column("CallerPool", Integer),
    Column("CalleePool", Integer),
    Column("CallerURI", Integer),
    Column("CalleeUri", Integer),
    Column("CallerPAI", Integer),
    Column("CalleePAI", Integer),
    Column("CallerEndpoint", Integer),
    Column("CalleeEndpoint", Integer),
    Column("CallerUserAgent", Integer),
    Column("CalleeUserAgent", Integer),
    Column("CallPriority", SmallInteger),
    Column("ClassifiedPoorCall", Boolean),
)


def _side_columns(side: str) -> list[Column[object]]:
    """The per-endpoint columns of MediaLine, for `Caller` or `Callee`."""
    return [
        Column(f"{side}IPAddr", Integer),
        Column(f"{side}Port", Integer),
        Column(f"{side}Subnet", Integer),
        Column(f"{side}Inside", Boolean),
        Column(f"{side}MacAddress", Integer),
        Column(f"{side}RelayIPAddr", Integer),
        Column(f"{side}RelayPort", Integer),
        Column(f"{side}CaptureDev", Integer),
        Column(f"{side}RenderDev", Integer),
        Column(f"{side}CaptureDevDriver", Integer),
        Column(f"{side}RenderDevDriver", Integer),
        Column(f"{side}NetworkConnectionType", SmallInteger),
        Column(f"{side}Bssid", Integer),
        Column(f"{side}VPN", Boolean),
        Column(f"{side}LinkSpeed", _num(18, 0)),
        Column(f"{side}ConnectivityICE", SmallInteger),
        Column(f"{side}IceWarningFlags", Integer),
    ]


qoe_media_line = Table(
    "MediaLine",
    qoe_metadata,
    _pk_time(),
    Column("SessionSeq", Integer, primary_key=True),
    Column("MediaLineLabel", SmallInteger, primary_key=True),  # 0 audio, 1 video, 2 pano, 3 sharing
    Column("ConnectivityIce", SmallInteger),
    Column("Security", SmallInteger),
    Column("Transport", SmallInteger),  # 0 UDP, 1 TCP
    *_side_columns("Caller"),
    *_side_columns("Callee"),
    Column("ConversationalMOS", _num(3, 2)),
    Column("Caller", Boolean),  # metrics from the caller were received
    Column("Callee", Boolean),
    Column("MidCallReport", Boolean),
    Column("ClassifiedPoorCall", Boolean),
)


def _stream_key() -> list[Column[object]]:
    return [
        _pk_time(),
        Column("SessionSeq", Integer, primary_key=True),
        Column("MediaLineLabel", SmallInteger, primary_key=True),
        Column("StreamID", Integer, primary_key=True),
    ]


def _stream_direction() -> list[Column[object]]:
    return [
        Column("Inbound", Boolean),  # the receiver's report of this stream arrived
        Column("Outbound", Boolean),  # the sender's report of this stream arrived
        Column("SenderIsCallerPAI", Boolean),
    ]  # 1: caller -> callee


qoe_audio_stream = Table(
    "AudioStream",
    qoe_metadata,
    *_stream_key(),
    Column("JitterInterArrival", Integer),
    Column("JitterInterArrivalMax", Integer),
    Column("PacketLossRate", _num(5, 4)),
    Column("PacketLossRateMax", _num(5, 4)),
    Column("PacketUtilization", Integer),
    Column("BandwidthEst", Integer),
    Column("DegradationAvg", _num(3, 2)),
    Column("DegradationMax", _num(3, 2)),
    Column("AudioPayloadDescription", Integer),
    Column("AudioSampleRate", Integer),
    Column("RoundTrip", Integer),
    Column("RoundTripMax", Integer),
    Column("OverallAvgNetworkMOS", _num(3, 2)),
    Column("RecvListenMOS", _num(3, 2)),
    Column("AudioFECUsed", Boolean),
    Column("RatioConcealedSamplesAvg", _num(5, 2)),
    Column("RatioStretchedSamplesAvg", _num(5, 2)),
    Column("RatioCompressedSamplesAvg", _num(5, 2)),
    *_stream_direction(),
    Column("RelativeOneWayAverage", Float),
    Column("AudioPostFECPLR", Float),
)

qoe_video_stream = Table(
    "VideoStream",
    qoe_metadata,
    *_stream_key(),
    Column("VideoPayloadDescription", SmallInteger, primary_key=True),
    Column("JitterInterArrival", Integer),
    Column("JitterInterArrivalMax", Integer),
    Column("RoundTrip", Integer),
    Column("RoundTripMax", Integer),
    Column("PacketLossRate", _num(5, 4)),
    Column("PacketLossRateMax", _num(5, 4)),
    Column("PacketUtilization", Integer),
    Column("BandwidthEst", Integer),
    Column("VideoResolution", String(9)),
    Column("VideoBitRateAvg", Integer),
    Column("InboundVideoFrameRateAvg", _num(9, 4)),
    Column("OutboundVideoFrameRateAvg", _num(9, 4)),
    Column("VideoBitRateMax", Integer),
    Column("VideoFrameLossRate", _num(9, 4)),
    *_stream_direction(),
    Column("RelativeOneWayAverage", Float),
    Column("VideoPacketLossRate", _num(9, 4)),
    Column("VideoPostFECPLR", Float),
)

qoe_app_sharing_stream = Table(
    "AppSharingStream",
    qoe_metadata,
    *_stream_key(),
    Column("JitterInterArrival", Integer),
    Column("JitterInterArrivalMax", Integer),
    Column("RoundTrip", Integer),
    Column("RoundTripMax", Integer),
    Column("PacketLossRate", Float),
    Column("PacketLossRateMax", Float),
    Column("PacketUtilization", Integer),
    Column("BandwidthEst", Integer),
    Column("AppSharingPayloadDescription", Integer),
    Column("RelativeOneWayAverage", Float),
    Column("ApplicationSharingType", String(256)),
    Column("RDPTileProcessingLatencyAverage", Float),
    Column("SpoiledTilePercentTotal", Float),
    *_stream_direction(),
)

# Client events: one row per endpoint (FromCaller 1 caller, 0 callee). The "...Ratio"
# columns are documented as "percentage of session", decimal(5,2).
AUDIO_CLIENT_EVENT_RATIOS = (
    "NetworkSendQualityEventRatio",
    "NetworkReceiveQualityEventRatio",
    "NetworkDelayEventRatio",
    "NetworkBandwidthLowEventRatio",
    "CPUInsufficientEventRatio",
    "DeviceHalfDuplexAECEventRatio",
    "DeviceRenderNotFunctioningEventRatio",
    "DeviceCaptureNotFunctioningEventRatio",
    "DeviceGlitchesEventRatio",
    "DeviceLowSNREventRatio",
    "DeviceLowSpeechLevelEventRatio",
    "DeviceClippingEventRatio",
    "DeviceEchoEventRatio",
    "DeviceNearEndToEchoRatioEventRatio",
    "DeviceRenderZeroVolumeEventRatio",
    "DeviceRenderMuteEventRatio",
)

qoe_audio_client_event = Table(
    "AudioClientEvent",
    qoe_metadata,
    _pk_time(),
    Column("SessionSeq", Integer, primary_key=True),
    Column("MediaLineLabel", SmallInteger, primary_key=True),
    Column("FromCaller", Boolean, primary_key=True),
    *[Column(name, _num(5, 2)) for name in AUDIO_CLIENT_EVENT_RATIOS],
)

# --- LcsCDR ----------------------------------------------------------------------------

cdr_users = Table(
    "Users",
    cdr_metadata,
    Column("UserId", Integer, primary_key=True),
    Column("UserUri", Unicode(450)),
    Column("TenantId", Integer),
    Column("UriTypeId", Integer),
    Column("NextUpdateTS", DateTime),
)

cdr_client_versions = Table(
    "ClientVersions",
    cdr_metadata,
    Column("VersionId", Integer, primary_key=True),
    Column("Version", Unicode(256)),
    Column("ClientType", Integer),
)

cdr_conference_uris = Table(
    "ConferenceUris",
    cdr_metadata,
    Column("ConferenceUriId", Integer, primary_key=True),
    Column("ConferenceUri", Unicode(450)),
    Column("Checksum", Integer),
    Column("UriTypeId", Integer),
    Column("NextUpdateTS", DateTime),
)

cdr_dialogs = Table(
    "Dialogs",
    cdr_metadata,
    Column("SessionIdTime", DateTime, primary_key=True),
    Column("SessionIdSeq", Integer, primary_key=True),
    Column("ExternalChecksum", Integer),
    Column("ExternalId", LargeBinary(775)),
)  # "dialog;from-tag;to-tag"

cdr_media_list = Table(
    "MediaList",
    cdr_metadata,
    Column("MediaId", SmallInteger, primary_key=True),
    Column("Media", Unicode(256)),
)

cdr_media = Table(
    "Media",
    cdr_metadata,
    Column("SessionIdTime", DateTime, primary_key=True),
    Column("SessionIdSeq", Integer, primary_key=True),
    Column("MediaId", SmallInteger, primary_key=True),
    Column("StartTime", DateTime, primary_key=True),
    Column("EndTime", DateTime),
)

cdr_session_details = Table(
    "SessionDetails",
    cdr_metadata,
    Column("SessionIdTime", DateTime, primary_key=True),
    Column("SessionIdSeq", Integer, primary_key=True),
    Column("CorrelationId", String(36)),
    Column("User1Id", Integer),
    Column("User2Id", Integer),
    Column("TargetUserId", Integer),
    Column("User1ClientVerId", Integer),
    Column("User2ClientVerId", Integer),
    Column("IsUser1Internal", Boolean),
    Column("IsUser2Internal", Boolean),
    Column("InviteTime", DateTime),
    Column("ResponseTime", DateTime),
    Column("ResponseCode", Integer),
    Column("DiagnosticId", Integer),
    Column("SessionEndTime", DateTime),
    Column("MediaTypes", Integer),
)

cdr_conference_session_details = Table(
    "ConferenceSessionDetails",
    cdr_metadata,
    Column("SessionIdTime", DateTime, primary_key=True),
    Column("SessionIdSeq", Integer, primary_key=True),
    Column("ConferenceUriId", Integer),
    Column("McuConferenceUriId", Integer),
    Column("UserId", Integer),
    Column("UserClientVersionId", Integer),
    Column("ConfClientVersionId", Integer),
    Column("IsUserInternal", Boolean),
    Column("ResponseCode", Integer),
    Column("DiagnosticId", Integer),
    Column("InviteTime", DateTime),
    Column("ResponseTime", DateTime),
    Column("SessionEndTime", DateTime),
)

QOE_TABLES = tuple(qoe_metadata.tables)
CDR_TABLES = tuple(cdr_metadata.tables)
