"""A second, independent MCP client for `crumb mcp`: the Python `mcp` package (PyPI).

Usage: mcp_client.py MODE CRUMB ARGS...   (MODE: handshake | discover)

Connects to `CRUMB mcp ARGS...` over stdio, either with the 2025-11-25 handshake
(`initialize`) or the 2026-07-28 stateless probe (`server/discover`), validates every
tool's input schema as a JSON Schema, calls a few tools, and prints one JSON document:
the negotiated version, the tool names, and each call's result. An approval request
(elicitation) is accepted. Exit 0 on success; anything else is a failure.
"""

import asyncio
import json
import os
import sys

import jsonschema
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client


async def approve(context, params):
    return types.ElicitResult(action="accept", content={"approve": True})


async def call(session, name, arguments):
    """A tool call as a host makes it: an InputRequiredResult (protocol 2026-07-28) is
    answered (each elicitation accepted) and the call made again with the answers."""
    if session.protocol_version != "2026-07-28":
        return await session.call_tool(name, arguments)
    state, responses = None, None
    for _ in range(4):
        r = await session.call_tool(
            name, arguments, allow_input_required=True, input_responses=responses, request_state=state
        )
        if not isinstance(r, types.InputRequiredResult):
            return r
        responses = {}
        for key, request in (r.input_requests or {}).items():
            answer = await approve(None, request.params)
            responses[key] = answer.model_dump(by_alias=True, mode="json", exclude_none=True)
        state = r.request_state
    raise RuntimeError("too many rounds")


async def main(mode, command, args):
    # The SDK passes a server only a few variables by default; crumb's data directory is one
    # it must see.
    server = StdioServerParameters(command=command, args=args, env=dict(os.environ))
    out = {"calls": []}
    async with stdio_client(server) as (read, write):
        async with ClientSession(read, write, elicitation_callback=approve) as session:
            if mode == "handshake":
                result = await session.initialize()
                out["version"] = result.protocol_version
            else:
                result = await session.discover()
                out["version"] = session.protocol_version
            tools = (await session.list_tools()).tools
            for tool in tools:
                jsonschema.Draft202012Validator.check_schema(tool.input_schema)
            out["tools"] = sorted(t.name for t in tools)
            for name, arguments in json.loads(sys.stdin.read()):
                r = await call(session, name, arguments)
                out["calls"].append(
                    {"tool": name, "is_error": bool(r.is_error), "structured": r.structured_content}
                )
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
