"""A raw-text model behind MLflow's own scoring server (``sweeplab serve``, which ``make serve`` runs), with the
bounds a server that faces requests needs. Before MLflow parses a request to ``/invocations``:

- a body over :data:`MAX_BODY_BYTES` is answered 413, before it is read whole;
- JSON nested deeper than Python's parser follows is 400 (MLflow's server answers it with a 500);
- a JSON request whose data holds anything but strings (a null, a number, an object where a text goes) is 400
  naming it: MLflow turns such values into text for some input formats before the model sees them (``"inputs":
  [null]`` arrives as ``"None"``), so only here can they be told from text in every format.

The model itself refuses non-text in the formats that reach it as they came, and bounds how many texts a call
takes and their length (:func:`sweeplab.modeling.textmodel.check_texts`), under ``mlflow models serve`` too.
Everything else is MLflow's server, built by the function ``mlflow models serve`` builds it with: the same routes
(``/invocations``, ``/ping``, ``/health``, ``/version``), input formats and answers.
"""

from __future__ import annotations

import asyncio
import json

# Larger than any request of MAX_TEXTS tweet-sized texts, and than the 50 MB bodies the server was seen to take.
MAX_BODY_BYTES = 64 << 20
# Parts of a JSON request that are not texts: pandas' split-format row labels, and MLflow's inference params.
NOT_TEXT = frozenset({"index", "params"})


def application(model_uri: str):
    """MLflow's scoring application for the model at ``model_uri``, inside the bounds above (an ASGI app)."""
    from mlflow.pyfunc import scoring_server

    return Guard(scoring_server.init(scoring_server.load_model_with_mlflow_config(model_uri)), MAX_BODY_BYTES)


def problem(body: bytes) -> str | None:
    """What keeps a JSON request to ``/invocations`` from being a table of texts, or None (also for a body that is
    not JSON at all: MLflow's parser says what is wrong with it)."""
    try:
        payload = json.loads(body)
    except RecursionError:
        return "the request's JSON is nested too deeply to be a table of texts"
    except ValueError:
        return None
    found = _not_text(payload)
    return None if found is None else f"{found[0]}: expected a text (a string), got {found[1]}"


def _not_text(value, where: str = "$"):
    """(JSON path, what it is) of the first leaf that is not a string, or None."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key not in NOT_TEXT and (found := _not_text(item, f"{where}.{key}")) is not None:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _not_text(item, f"{where}[{index}]")) is not None:
                return found
        return None
    if isinstance(value, str):
        return None
    return where, "null" if value is None else json.dumps(value)[:40]


def _error(status: int, code: str, message: str):
    from fastapi.responses import Response

    return Response(content=json.dumps({"error_code": code, "message": message}), status_code=status,
                    media_type="application/json")


class Guard:
    """ASGI middleware: a request body over ``limit`` bytes gets 413, a JSON request to ``/invocations`` that
    :func:`problem` refuses gets 400; neither reaches ``app``. The body is read here (MLflow's server reads it
    whole anyway) and handed on as it came."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(scope, receive, send)
        body, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body.append(message.get("body", b""))
            more = message.get("more_body", False)
            if sum(map(len, body)) > self.limit:
                return await self._refuse(scope, receive, send)
        whole, sent = b"".join(body), False
        if scope["path"] == "/invocations" and headers.get(b"content-type", b"").startswith(b"application/json"):
            wrong = await asyncio.to_thread(problem, whole)  # a large body takes a while: others go on
            if wrong is not None:
                return await _error(400, "INVALID_PARAMETER_VALUE", wrong)(scope, receive, send)

        async def replay():
            nonlocal sent
            if sent:
                return await receive()  # after the body: the client's disconnect, when it comes
            sent = True
            return {"type": "http.request", "body": whole, "more_body": False}

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send):
        response = _error(413, "REQUEST_LIMIT_EXCEEDED", f"the request body is larger than {self.limit:,} bytes: "
                                                         "send the texts in parts")
        await response(scope, receive, send)


def serve(app, host: str, port: int) -> None:
    """Serve ``app`` (from :func:`application`) until the process is stopped."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
