"""The names our traces and metrics use: OpenTelemetry's GenAI and MCP semantic conventions, and ours.

We follow the GenAI and MCP conventions as released in OpenTelemetry semantic conventions v1.41.1 (the
last release that holds them: they have since moved to open-telemetry/semantic-conventions-genai, which
has made no release yet). Names of our own, for what the conventions do not cover, start with `troupe.`.
Plain strings, so that importing this module imports no OpenTelemetry code.
"""

from __future__ import annotations

__all__ = [
    "AGENT_DESCRIPTION",
    "AGENT_ID",
    "AGENT_NAME",
    "CAPTURE_CONTENT_ENV",
    "DURATION_BUCKETS_S",
    "ERROR_TYPE",
    "FINISH_REASONS",
    "INPUT_MESSAGES",
    "INPUT_TOKENS",
    "MCP_METHOD",
    "NETWORK_TRANSPORT",
    "OPERATION",
    "OPERATION_DURATION",
    "OUTPUT_MESSAGES",
    "OUTPUT_TOKENS",
    "PROVIDER",
    "REQUEST_MAX_TOKENS",
    "REQUEST_MODEL",
    "REQUEST_SEED",
    "REQUEST_STREAM",
    "REQUEST_TEMPERATURE",
    "REQUEST_TOP_P",
    "RESPONSE_ID",
    "RESPONSE_MODEL",
    "RUNS",
    "RUN_DURATION",
    "SCHEMA_URL",
    "SCOPE",
    "SEMCONV_VERSION",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "TOKEN_BUCKETS",
    "TOKEN_TYPE",
    "TOKEN_USAGE",
    "TOOL_ARGUMENTS",
    "TOOL_CALL_ID",
    "TOOL_DESCRIPTION",
    "TOOL_NAME",
    "TOOL_RESULT",
    "TOOL_TYPE",
    "TROUPE_MCP_SERVER",
    "TROUPE_RECORDED_DURATION",
    "TROUPE_REPLAYED",
    "TROUPE_RUN_MESSAGES",
    "TROUPE_SCENARIO",
    "TROUPE_STOPPED_BY",
    "TROUPE_STOP_REASON",
    "TROUPE_TASK_LENGTH",
    "TROUPE_TEAM_KIND",
    "WORKFLOW_NAME",
]

SEMCONV_VERSION = "1.41.1"
SCHEMA_URL = f"https://opentelemetry.io/schemas/{SEMCONV_VERSION}"
SCOPE = "autogen_troupe"  # the instrumentation scope of every span and metric we make

# GenAI attributes
OPERATION = "gen_ai.operation.name"  # invoke_workflow | invoke_agent | chat | execute_tool
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE = "gen_ai.request.temperature"
REQUEST_TOP_P = "gen_ai.request.top_p"
REQUEST_SEED = "gen_ai.request.seed"
REQUEST_STREAM = "gen_ai.request.stream"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
TOKEN_TYPE = "gen_ai.token.type"  # input | output (metric attribute)
AGENT_NAME = "gen_ai.agent.name"
AGENT_ID = "gen_ai.agent.id"
AGENT_DESCRIPTION = "gen_ai.agent.description"
WORKFLOW_NAME = "gen_ai.workflow.name"
TOOL_NAME = "gen_ai.tool.name"
TOOL_CALL_ID = "gen_ai.tool.call.id"
TOOL_DESCRIPTION = "gen_ai.tool.description"
TOOL_TYPE = "gen_ai.tool.type"  # function (Python tools, handoffs) | extension (MCP tools)
INPUT_MESSAGES = "gen_ai.input.messages"  # opt-in: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"

# MCP, network, server and error attributes
MCP_METHOD = "mcp.method.name"
NETWORK_TRANSPORT = "network.transport"  # pipe (stdio) | tcp (streamable HTTP)
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

# Ours
TROUPE_SCENARIO = "troupe.scenario"
TROUPE_TEAM_KIND = "troupe.team.kind"
TROUPE_TASK_LENGTH = "troupe.task.length"  # characters of the task
TROUPE_STOP_REASON = "troupe.run.stop_reason"
TROUPE_STOPPED_BY = "troupe.run.stopped_by"  # rule | limit | error | interrupted
TROUPE_RUN_MESSAGES = "troupe.run.messages"
TROUPE_MCP_SERVER = "troupe.mcp.server"  # the scenario's name for the MCP server
TROUPE_REPLAYED = "troupe.replayed"  # the span's answer came from a cassette
TROUPE_RECORDED_DURATION = "troupe.recorded.duration_s"  # how long the call took when it was recorded

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

# Metrics, with the bucket boundaries the conventions advise
OPERATION_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
RUNS = "troupe.runs"
RUN_DURATION = "troupe.run.duration"
DURATION_BUCKETS_S = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
