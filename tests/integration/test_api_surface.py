"""The API surface beyond chat, end to end with each API's own client against the real
`modelyard up` on the CPU profile: embeddings (openai SDK, LangChain), rerank and score
(httpx), the Responses API (openai SDK), Anthropic's Messages API (anthropic SDK), LangChain's
chat model with tools, /v1/models/{id}, /health and /route for the new endpoints.

The module starts its three vLLM servers side by side before its first test (tiny-embed,
tiny-rerank, tiny-qwen-a: one start's wait instead of three). The last test unloads tiny-qwen-a
(a stored response whose holder has stopped is a 409), and the servers this module started are
unloaded at its end.
"""

from __future__ import annotations

import array
import base64
import json
import math
import subprocess
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from openai.types.responses import Response
from pydantic import BaseModel, Field

from harness.stack import MODELYARD, Stack, preload

pytestmark = pytest.mark.integration

POOLING_SERVERS = ("tiny-embed", "tiny-rerank")
HINDI = "मुझे एक छोटी कहानी लिखो"
QUERY = "What is the capital of France?"
DOCUMENTS = [
    "Paris is the capital and largest city of France.",
    "Bananas are an excellent source of potassium.",
    "The Eiffel Tower stands in Paris.",
]


@pytest.fixture(scope="module", autouse=True)
def _unload_what_this_module_started(stack: Stack) -> Iterator[None]:
    """Three more vLLM processes (~1.6 GB each) would crowd the modules that run after."""
    names = (*POOLING_SERVERS, "tiny-qwen-a")
    stopped = [name for name in names if stack.server(name)["state"] == "stopped"]
    preload(stack, *names)
    yield
    for name in stopped:
        if stack.server(name)["state"] != "stopped":
            assert stack.cli("unload", name).returncode == 0


def attempts(stack: Stack, server: str) -> float:
    """Every try the proxy has made on `server`, whatever its outcome (GET /metrics)."""
    total = 0.0
    for line in httpx.get(stack.proxy_url + "/metrics").text.splitlines():
        if line.startswith("modelyard_attempts_total{") and f'server="{server}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def floats_of(b64: str) -> list[float]:
    """An embedding in OpenAI's base64 encoding: little-endian float32s."""
    return array.array("f", base64.b64decode(b64)).tolist()


def capabilities(stack: Stack, server: str) -> set[str]:
    return set(stack.config["servers"][server].get("capabilities", []))


# --- embeddings: the openai SDK ----------------------------------------------------------


def test_one_string_embeds_to_one_vector_with_the_routing_headers(stack: Stack) -> None:
    raw = stack.openai().embeddings.with_raw_response.create(
        model="auto", input="The quick brown fox jumps over the lazy dog."
    )
    assert raw.headers["x-modelyard-model"] == "tiny-embed"
    assert raw.headers["x-modelyard-intent"] == "embed"
    assert raw.headers["x-modelyard-language"] == "en"
    # Given no encoding_format, the SDK asks for base64 and decodes it itself: the wire holds a
    # string, the parsed result a list of floats of the same length.
    wire = raw.http_response.json()["data"][0]["embedding"]
    parsed = raw.parse()
    assert isinstance(wire, str)
    vector = parsed.data[0].embedding
    assert isinstance(vector, list) and vector and all(isinstance(x, float) for x in vector)
    assert len(floats_of(wire)) == len(vector)
    assert parsed.model == "tiny-embed"  # rewritten to the server's name, then answered by it


def test_a_batch_of_three_is_three_vectors_in_order(stack: Stack) -> None:
    client = stack.openai()
    batch = client.embeddings.create(model="embed", input=DOCUMENTS, encoding_format="float")
    assert [d.index for d in batch.data] == [0, 1, 2]
    lengths = {len(d.embedding) for d in batch.data}
    assert len(lengths) == 1 and lengths.pop() > 0
    # each item is that text's own vector: the second alone is nearest the batch's second (a
    # random-weight encoder puts every text within cosine 0.9999 of every other, so nearest,
    # not a threshold)
    alone = client.embeddings.create(model="embed", input=DOCUMENTS[1], encoding_format="float")
    gaps = [math.dist(alone.data[0].embedding, d.embedding) for d in batch.data]
    assert min(range(3), key=gaps.__getitem__) == 1, gaps


def test_base64_is_the_float_vector_encoded(stack: Stack) -> None:
    client = stack.openai()
    text = "modelyard routes embeddings"
    floats = client.embeddings.create(model="tiny-embed", input=text, encoding_format="float")
    # Asked for explicitly, base64 is handed back undecoded (the SDK decodes only its own
    # default), so `.embedding` is the string the server sent.
    encoded = client.embeddings.create(model="tiny-embed", input=text, encoding_format="base64")
    b64 = encoded.data[0].embedding
    assert isinstance(b64, str)
    decoded = floats_of(b64)
    expected = floats.data[0].embedding
    assert len(decoded) == len(expected)
    assert all(
        math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-6)
        for x, y in zip(decoded, expected, strict=True)
    )
    raw = httpx.post(
        stack.proxy_url + "/v1/embeddings",
        json={"model": "tiny-embed", "input": text, "encoding_format": "base64"},
        timeout=300,
    )
    assert raw.status_code == 200
    assert floats_of(raw.json()["data"][0]["embedding"]) == decoded


def test_dimensions_truncates_the_vector(stack: Stack) -> None:
    client = stack.openai()
    text = "a matryoshka embedding keeps its meaning in its first dimensions"
    full = client.embeddings.create(model="tiny-embed", input=text, encoding_format="float")
    short = client.embeddings.create(
        model="tiny-embed", input=text, dimensions=16, encoding_format="float"
    )
    assert len(full.data[0].embedding) > 16
    assert len(short.data[0].embedding) == 16
    # the first 16 of the whole, renormalised or not: the same direction
    assert cosine(short.data[0].embedding, full.data[0].embedding[:16]) > 1 - 1e-6


def test_hindi_input_is_embedded_and_labelled_hindi(stack: Stack) -> None:
    raw = stack.openai().embeddings.with_raw_response.create(
        model="auto", input=HINDI, encoding_format="float"
    )
    assert (raw.headers["x-modelyard-model"], raw.headers["x-modelyard-intent"]) == (
        "tiny-embed",
        "embed",
    )
    assert raw.headers["x-modelyard-language"] == "hi"
    vector = raw.parse().data[0].embedding
    english = stack.openai().embeddings.create(
        model="embed", input="hello", encoding_format="float"
    )
    assert len(vector) == len(english.data[0].embedding)


# --- embeddings: LangChain ---------------------------------------------------------------


def test_langchain_embeddings_send_text_and_get_vectors(stack: Stack) -> None:
    sent: list[dict[str, Any]] = []
    hook = openai.DefaultHttpxClient(
        event_hooks={"request": [lambda request: sent.append(json.loads(request.read()))]}
    )
    # LangChain's default (check_embedding_ctx_length=True) splits texts with tiktoken's
    # cl100k vocabulary and sends token ids: meaningless to any other model's vocabulary, and
    # tiktoken fetches its vocabulary from the internet on first use. False sends the texts.
    embeddings = OpenAIEmbeddings(
        base_url=stack.proxy_url + "/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="embed",
        check_embedding_ctx_length=False,
        http_client=hook,
        max_retries=0,
    )
    vectors = embeddings.embed_documents(DOCUMENTS)
    query = embeddings.embed_query(QUERY)
    assert len(vectors) == 3 and {len(v) for v in vectors} == {len(query)}
    assert all(isinstance(x, float) for x in query)
    # what went on the wire: the texts themselves, and the SDK's default base64 (decoded by it)
    assert [body["input"] for body in sent] == [DOCUMENTS, [QUERY]]
    assert {body["model"] for body in sent} == {"embed"}
    assert {body.get("encoding_format") for body in sent} == {"base64"}


# --- the capability wall -----------------------------------------------------------------


def test_a_chat_for_the_embedding_server_is_refused_before_it_is_started(stack: Stack) -> None:
    starts, tries = stack.server("tiny-embed")["starts"], attempts(stack, "tiny-embed")
    with pytest.raises(openai.BadRequestError) as info:
        stack.openai().chat.completions.create(
            model="tiny-embed", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    error = info.value.response.json()["error"]
    assert error["code"] == "unsupported_input"
    assert "tiny-embed cannot take text" in error["message"]
    assert stack.server("tiny-embed")["starts"] == starts
    assert attempts(stack, "tiny-embed") == tries, "the chat must never reach tiny-embed"


def test_embeddings_for_a_chat_server_are_refused_before_it_is_started(stack: Stack) -> None:
    chain = stack.config["routes"]["agent"]
    before = {name: (stack.server(name)["starts"], attempts(stack, name)) for name in chain}
    with pytest.raises(openai.BadRequestError) as info:
        stack.openai().embeddings.create(model="tiny-qwen-a", input="hello")
    error = info.value.response.json()["error"]
    assert (error["code"], error["param"]) == ("unsupported_input", "input")
    assert "tiny-qwen-a cannot take embedding" in error["message"]
    after = {name: (stack.server(name)["starts"], attempts(stack, name)) for name in chain}
    assert after == before, "no server of the agent chain may be started or sent the request"


# --- rerank and score: httpx -------------------------------------------------------------


def post(stack: Stack, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(stack.proxy_url + path, json=body, timeout=300)


def check_ranking(results: list[dict[str, Any]], count: int) -> dict[int, float]:
    """Each document once, with a score, best first; the scores by document index."""
    assert sorted(r["index"] for r in results) == list(range(count))
    scores = [r["relevance_score"] for r in results]
    assert all(isinstance(s, float) for s in scores)
    assert scores == sorted(scores, reverse=True)
    return {r["index"]: r["relevance_score"] for r in results}


def test_rerank_scores_every_document_best_first(stack: Stack) -> None:
    response = post(stack, "/v1/rerank", {"model": "auto", "query": QUERY, "documents": DOCUMENTS})
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-model"] == "tiny-rerank"
    assert response.headers["x-modelyard-intent"] == "rerank"
    check_ranking(response.json()["results"], len(DOCUMENTS))


def test_rerank_by_route_name_and_top_n(stack: Stack) -> None:
    body = {"model": "rerank", "query": QUERY, "documents": DOCUMENTS}
    response = post(stack, "/v1/rerank", {**body, "top_n": 2})
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-model"] == "tiny-rerank"
    results = response.json()["results"]
    assert len(results) == 2
    every = check_ranking(post(stack, "/v1/rerank", body).json()["results"], len(DOCUMENTS))
    best_two = sorted(every, key=every.__getitem__, reverse=True)[:2]
    assert [r["index"] for r in results] == best_two


def test_v2_rerank_in_cohere_shape(stack: Stack) -> None:
    response = post(
        stack, "/v2/rerank", {"model": "rerank", "query": QUERY, "documents": DOCUMENTS}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-modelyard-model"] == "tiny-rerank"
    check_ranking(response.json()["results"], len(DOCUMENTS))


def test_score_pairs_the_query_with_each_text(stack: Stack) -> None:
    response = post(stack, "/v1/score", {"model": "auto", "text_1": QUERY, "text_2": DOCUMENTS})
    assert response.status_code == 200, response.text
    assert (response.headers["x-modelyard-model"], response.headers["x-modelyard-intent"]) == (
        "tiny-rerank",
        "rerank",
    )
    data = response.json()["data"]
    assert [d["index"] for d in data] == list(range(len(DOCUMENTS)))
    # the same cross-encoder behind both: a pair's score is its rerank relevance
    ranked = post(stack, "/v1/rerank", {"model": "rerank", "query": QUERY, "documents": DOCUMENTS})
    relevance = check_ranking(ranked.json()["results"], len(DOCUMENTS))
    for d in data:
        assert math.isclose(d["score"], relevance[d["index"]], rel_tol=1e-3, abs_tol=1e-5)


# --- the Responses API: the openai SDK ---------------------------------------------------


@pytest.fixture(scope="module")
def first_response(stack: Stack) -> tuple[Mapping[str, str], Response]:
    """A stored response, for the tests that retrieve, continue and cancel it."""
    raw = stack.openai().responses.with_raw_response.create(
        model="auto", input="Write a haiku about GPUs", max_output_tokens=16
    )
    return raw.headers, raw.parse()


def test_a_response_is_routed_as_chat_and_remembered(
    stack: Stack, first_response: tuple[Mapping[str, str], Response]
) -> None:
    headers, response = first_response
    assert headers["x-modelyard-intent"] == "agent"
    assert headers["x-modelyard-model"] == "tiny-qwen-a"
    assert response.model == "tiny-qwen-a"  # "auto" rewritten to the server's name
    assert isinstance(response.output_text, str)
    # finished either way: the tiny model stops by itself or at max_output_tokens
    assert response.status in ("completed", "incomplete")
    if response.status == "incomplete":
        assert response.incomplete_details is not None
        assert response.incomplete_details.reason == "max_output_tokens"
    again = stack.openai().responses.retrieve(response.id)
    assert (again.id, again.status) == (response.id, response.status)


def test_a_streamed_response_runs_from_created_to_completed(stack: Stack) -> None:
    with stack.openai().responses.create(
        model="auto", input="Tell me a story", max_output_tokens=16, stream=True
    ) as stream:
        events = list(stream)
    assert len(events) >= 3
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    created, completed = events[0].response, events[-1].response
    assert created.id == completed.id
    assert completed.model == "tiny-qwen-a"
    # the proxy learnt the id from the stream's first event: it can be retrieved
    assert stack.openai().responses.retrieve(created.id).id == created.id


def test_a_follow_up_goes_to_the_server_that_holds_the_conversation(
    stack: Stack, first_response: tuple[Mapping[str, str], Response]
) -> None:
    first = first_response[1].id
    starts_b = stack.server("tiny-qwen-b")["starts"]
    # It names the other server: the conversation lives in tiny-qwen-a's memory alone, so
    # tiny-qwen-a answers, and tiny-qwen-b is not started.
    raw = stack.openai().responses.with_raw_response.create(
        model="tiny-qwen-b",
        input="And another one",
        previous_response_id=first,
        max_output_tokens=8,
    )
    assert raw.status_code == 200
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-a"
    follow_up = raw.parse()
    assert follow_up.previous_response_id == first
    assert stack.server("tiny-qwen-b")["starts"] == starts_b


def test_instructions_reach_the_server(stack: Stack) -> None:
    instructions = "Answer in one short sentence."
    response = stack.openai().responses.create(
        model="auto", instructions=instructions, input="What is a GPU?", max_output_tokens=8
    )
    assert response.instructions == instructions  # vLLM echoes what it was given


def test_cancel_of_a_finished_response_passes_vllms_answer_through(
    stack: Stack, first_response: tuple[Mapping[str, str], Response]
) -> None:
    first, status = first_response[1].id, first_response[1].status
    # vLLM 0.32 refuses to cancel a response that is not queued or in progress: a 400
    # invalid_request_error "Cannot cancel a synchronous response." (param response_id),
    # relayed as it came from the holder, which the proxy neither retries nor falls back from.
    with pytest.raises(openai.BadRequestError) as info:
        stack.openai().responses.cancel(first)
    headers = info.value.response.headers
    assert headers["x-modelyard-model"] == "tiny-qwen-a"
    assert headers["x-modelyard-tried"] == "tiny-qwen-a:client"
    assert "cancel" in info.value.message.lower()
    assert info.value.param == "response_id"
    assert stack.openai().responses.retrieve(first).status == status


def test_an_unknown_response_id_is_a_404(stack: Stack) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        stack.openai().responses.retrieve("resp_neverseen")
    assert info.value.code == "response_not_found"
    assert set(info.value.response.json()["error"]) == {"message", "type", "param", "code"}


# --- Anthropic's Messages API: the anthropic SDK -----------------------------------------


def claude(stack: Stack) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=stack.proxy_url, api_key="unused", max_retries=0, timeout=300
    )


def test_a_message_through_the_anthropic_sdk(stack: Stack) -> None:
    raw = claude(stack).messages.with_raw_response.create(
        model="auto",
        max_tokens=16,
        messages=[{"role": "user", "content": "Write a haiku about GPUs"}],
    )
    assert raw.headers["x-modelyard-model"] == "tiny-qwen-a"
    assert raw.headers["x-modelyard-intent"] == "agent"
    assert raw.headers["x-modelyard-language"] == "en"
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0


def test_a_streamed_message_arrives_as_text_events(stack: Stack) -> None:
    with claude(stack).messages.stream(
        model="auto",
        max_tokens=32,
        messages=[{"role": "user", "content": "Count from one to ten"}],
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert pieces and "".join(pieces)
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.content[0].type == "text"
    assert final.content[0].text == "".join(pieces)


def test_count_tokens_grows_with_the_prompt(stack: Stack) -> None:
    client = claude(stack)

    def count(text: str) -> int:
        return client.messages.count_tokens(
            model="auto", messages=[{"role": "user", "content": text}]
        ).input_tokens

    short = count("Hello")
    longer = count("Hello " + "and a much longer prompt about routing models " * 8)
    assert 0 < short < longer


def test_an_invalid_message_is_a_400_in_anthropics_shape(stack: Stack) -> None:
    response = httpx.post(
        stack.proxy_url + "/v1/messages",
        json={"model": "auto", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    with pytest.raises(anthropic.NotFoundError) as info:  # and the SDK reads the shape
        claude(stack).messages.create(
            model="claude-7", max_tokens=4, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]


# --- LangChain's chat model --------------------------------------------------------------


def lc_chat(stack: Stack, sent: list[dict[str, Any]] | None = None) -> ChatOpenAI:
    hooks = {"request": [lambda r: sent.append(json.loads(r.read()))]} if sent is not None else {}
    return ChatOpenAI(
        base_url=stack.proxy_url + "/v1",
        api_key="unused",  # type: ignore[arg-type]
        model="auto",
        max_tokens=16,  # type: ignore[call-arg]
        max_retries=0,
        include_response_headers=True,
        http_client=openai.DefaultHttpxClient(event_hooks=hooks),
    )


def test_langchain_invoke_and_stream(stack: Stack) -> None:
    answer = lc_chat(stack).invoke("Write a haiku about GPUs")
    assert isinstance(answer, AIMessage)
    assert answer.response_metadata["headers"]["x-modelyard-model"] == "tiny-qwen-a"
    assert answer.response_metadata["model_name"] == "tiny-qwen-a"
    chunks = list(lc_chat(stack).stream("Count from one to ten"))
    assert len(chunks) > 1 and all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks)


class GetWeather(BaseModel):
    """The current weather in a city."""

    city: str = Field(description="The city, e.g. Pune")


def test_langchain_tools_reach_a_server_that_takes_tools(stack: Stack) -> None:
    sent: list[dict[str, Any]] = []
    answer = lc_chat(stack, sent).bind_tools([GetWeather]).invoke("What is the weather in Pune?")
    # the tiny model's output is gibberish: a call or text, but an answer from the right server
    assert isinstance(answer, AIMessage)
    assert answer.response_metadata["headers"]["x-modelyard-model"] == "tiny-qwen-a"
    assert "tools" in capabilities(stack, "tiny-qwen-a")
    assert [t["function"]["name"] for t in sent[-1]["tools"]] == ["GetWeather"]


# --- models, health, /route and `modelyard route` ----------------------------------------


def test_one_model_by_id_and_an_unknown_one(stack: Stack) -> None:
    found = httpx.get(stack.proxy_url + "/v1/models/tiny-embed")
    assert found.status_code == 200
    assert (found.json()["id"], found.json()["object"]) == ("tiny-embed", "model")
    assert stack.openai().models.retrieve("embed").id == "embed"
    missing = httpx.get(stack.proxy_url + "/v1/models/nope")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "model_not_found"


def test_health_answers_without_a_server(stack: Stack) -> None:
    response = httpx.get(stack.proxy_url + "/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def able(stack: Stack, route: str, *needs: str) -> list[str]:
    """The route's servers that declare every capability in `needs`, in order."""
    return [s for s in stack.config["routes"][route] if set(needs) <= capabilities(stack, s)]


@pytest.mark.parametrize(
    ("endpoint", "body", "intent", "needs"),
    [
        ("/v1/embeddings", {"input": "hello world"}, "embed", ("embedding",)),
        ("/v1/rerank", {"query": QUERY, "documents": DOCUMENTS}, "rerank", ("rerank",)),
        ("/v1/score", {"text_1": QUERY, "text_2": DOCUMENTS}, "rerank", ("rerank",)),
        ("/v1/responses", {"input": "Write a haiku"}, "agent", ("text", "responses")),
        (
            "/v1/messages",
            {"max_tokens": 16, "messages": [{"role": "user", "content": "Write a haiku"}]},
            "agent",
            ("text", "messages"),
        ),
    ],
)
def test_route_decides_the_new_endpoints(
    stack: Stack, endpoint: str, body: dict[str, Any], intent: str, needs: tuple[str, ...]
) -> None:
    response = httpx.post(
        stack.proxy_url + "/route", params={"endpoint": endpoint}, json=body, timeout=30
    )
    assert response.status_code == 200, response.text
    decision = response.json()
    assert (decision["intent"], decision["route"]) == (intent, intent)
    expected = able(stack, intent, *needs)
    assert expected, f"the profile's {intent} route has no server that takes {needs}"
    assert decision["candidates"] == expected
    assert decision["model"] == expected[0]


def test_cli_route_for_embeddings(stack: Stack) -> None:
    args = ["route", HINDI, "--endpoint", "/v1/embeddings", "--url", stack.proxy_url, "--json"]
    result = subprocess.run(
        [MODELYARD, *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert (decision["intent"], decision["language"]) == ("embed", "hi")
    assert decision["candidates"] == able(stack, "embed", "embedding")


# --- last: a response whose holder is gone -----------------------------------------------


def test_after_its_holder_stops_a_response_is_gone_not_answered_elsewhere(
    stack: Stack, first_response: tuple[Mapping[str, str], Response]
) -> None:
    first = first_response[1].id
    unloaded = stack.cli("unload", "tiny-qwen-a")
    assert unloaded.returncode == 0, unloaded.stderr
    assert stack.server("tiny-qwen-a")["state"] == "stopped"
    with pytest.raises(openai.ConflictError) as info:
        stack.openai().responses.retrieve(first)
    assert info.value.code == "response_holder_gone"
    with pytest.raises(openai.ConflictError) as follow_up:
        stack.openai().responses.create(
            model="auto", input="go on", previous_response_id=first, max_output_tokens=4
        )
    assert follow_up.value.code == "response_holder_gone"
    assert stack.server("tiny-qwen-a")["state"] == "stopped", "a 409 must not start the holder"
