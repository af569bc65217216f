"""Blob trigger: a new raw batch in `incoming/` is processed into calls.

In Azure the trigger runs on the Event Grid source (low latency, no container scans);
the glue only hands the blob name to the processor, which streams the blob itself.
Raising lets the host retry; the processor poisons a batch after its attempt budget.
"""

from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("process_batch")
@bp.blob_trigger(
    arg_name="blob",
    path="incoming/{name}",
    connection="CDC_STORAGE",
    source=func.BlobSource.EVENT_GRID,
)
async def process_batch(blob: func.InputStream) -> None:
    from shared import telemetry
    from shared.processor import process_batch_blob

    telemetry.configure_telemetry()  # the one logging set-up, before anything logs
    await process_batch_blob(blob.name or "")
