"""One way to reach Temporal: pydantic payloads, encrypted, on every client and worker."""

from __future__ import annotations

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from tandem.codec import EncryptionCodec, load_keys
from tandem.settings import Settings


def data_converter(settings: Settings) -> DataConverter:
    ring = load_keys(settings.codec_keys, settings.key_file)
    return dataclasses.replace(pydantic_data_converter, payload_codec=EncryptionCodec(ring))


async def connect(settings: Settings) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
