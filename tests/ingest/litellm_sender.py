"""Runs inside .venv-litellm (not the project's venv): real LiteLLM calls logged to distillguard.

Usage: python litellm_sender.py BASE_URL INGEST_KEY. Mock model answers, no network but 127.0.0.1.
Metadata carries what the LiteLLM proxy puts there for a request (end-user id, client IP, user
agent, the caller's key); the proxy's own request parsing is not under test.
"""

import asyncio
import os
import sys
import time

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import litellm
from litellm.integrations.generic_api.generic_api_callback import GenericAPILogger


async def main(base_url: str, key: str) -> None:
    for fmt, n_calls in (("json_array", 3), ("ndjson", 2)):
        logger = GenericAPILogger(
            endpoint=f"{base_url}/v1/ingest/litellm",
            headers={"Authorization": f"Bearer {key}"},
            log_format=fmt,
            flush_interval=1,
        )
        litellm.callbacks = [logger]
        for i in range(n_calls):
            await litellm.acompletion(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": f"{fmt} question {i}: explain your reasoning step by step"},
                ],
                mock_response=f"answer {i}",
                user=f"{fmt}-user-{i}",
                metadata={
                    "user_api_key_end_user_id": f"{fmt}-account-{i % 2}",
                    "requester_ip_address": f"203.0.113.{10 + i}",
                    "user_agent": f"test-client/{fmt}",
                    "user_api_key_hash": "raw-token-without-prefix-0123456789",
                },
            )
        deadline = time.monotonic() + 30
        while len(logger.log_queue) < n_calls and time.monotonic() < deadline:
            await asyncio.sleep(0.1)  # success callbacks run after acompletion returns
        await logger.flush_queue()
        litellm.callbacks = []
    print("sent", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
