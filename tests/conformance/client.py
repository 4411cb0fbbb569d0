"""Our client under the official conformance suite: `conformance client --command "python client.py"`.

The suite starts a test server, then runs this with the server's URL as the last argument, the scenario
in $MCP_CONFORMANCE_SCENARIO and, for some, credentials in $MCP_CONFORMANCE_CONTEXT (JSON). Each scenario
maps to one `troupe mcp ...` command line, run as a person would run it; this file only chooses it.
A login opens $BROWSER (the tests point it at tests/mcp_fixtures/browser.py, which follows the redirect
back to our loopback port as a browser would). Tokens go to a folder of the scenario's own.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

# The suite's own client uses this document URL where a server supports client id metadata documents.
CIMD = "https://conformance-test.local/client-metadata.json"


def command(scenario: str, url: str, context: dict[str, object], env: dict[str, str]) -> list[str]:
    """The `troupe mcp` arguments for a scenario (and the environment they need)."""
    if scenario == "initialize":
        return ["tools", url, "--json"]
    if scenario == "tools_call":
        return ["call", url, "add_numbers", "--args", '{"a": 5, "b": 3}']
    if scenario == "sse-retry":
        return ["call", url, "test_reconnection"]
    if scenario.startswith("elicitation-"):
        return ["call", url, "test_client_elicitation_defaults", "--elicitation", "accept_defaults"]
    if scenario == "auth/client-credentials-basic":
        env["TROUPE_MCP_CLIENT_SECRET"] = str(context["client_secret"])
        return ["tools", url, "--grant", "client_credentials", "--client-id", str(context["client_id"])]
    if scenario == "auth/client-credentials-jwt":
        key = Path(env["TROUPE_MCP_TOKENS"]) / "client-key.pem"
        key.parent.mkdir(parents=True, exist_ok=True)
        key.write_text(str(context["private_key_pem"]), encoding="utf-8")
        return [
            "tools", url, "--grant", "client_credentials", "--client-id", str(context["client_id"]),
            "--private-key", str(key),
        ]  # fmt: skip
    if scenario == "auth/cross-app-access-complete-flow":  # enterprise-managed (SEP-990)
        env["TROUPE_MCP_CLIENT_SECRET"] = str(context["client_secret"])
        env["TROUPE_MCP_ID_TOKEN"] = str(context["idp_id_token"])
        cid, idp = str(context["client_id"]), f"idp_token_endpoint={context['idp_token_endpoint']}"
        return [
            "call", url, "test-tool", "--grant", "identity_assertion", "--client-id", cid,
            "--auth", f"issuer={_issuer(url)}", "--auth", idp,
            "--auth", f"idp_client_id={context['idp_client_id']}",
        ]  # fmt: skip
    args = ["call", url, "test-tool"]
    if context.get("client_id"):  # auth/pre-registration: a client registered beforehand
        args += ["--client-id", str(context["client_id"])]
        if context.get("client_secret"):
            env["TROUPE_MCP_CLIENT_SECRET"] = str(context["client_secret"])
    else:
        args += ["--client-metadata-url", CIMD]
    return args


def _issuer(url: str) -> str:
    """The authorization server a deployment would configure for SEP-990 (the SDK never lets the resource
    server choose it); here read once from the test server's protected-resource metadata."""
    parts = urlsplit(url)
    well_known = f"{parts.scheme}://{parts.netloc}/.well-known/oauth-protected-resource{parts.path}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(well_known, timeout=10) as page:
        return str(json.load(page)["authorization_servers"][0])


def main() -> None:
    scenario = os.environ.get("MCP_CONFORMANCE_SCENARIO", "")
    url = sys.argv[-1]
    context = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    env = dict(os.environ)
    base = env.get("TROUPE_MCP_TOKENS") or tempfile.mkdtemp(prefix="troupe-conformance-")
    env["TROUPE_MCP_TOKENS"] = str(Path(base) / re.sub(r"[^A-Za-z0-9_.-]", "_", scenario))
    argv = [sys.executable, "-m", "autogen_troupe.cli", "mcp", *command(scenario, url, context, env)]
    print("troupe " + " ".join(argv[3:]), file=sys.stderr, flush=True)
    os.execve(sys.executable, argv, env)


if __name__ == "__main__":
    main()
