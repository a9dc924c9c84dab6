#!/usr/bin/env python3
"""PAKE's "first thread" from Python, through a client generated from proto/ with grpcio-tools.

Usage:
    python3 thread.py HOST:PORT GENERATED_DIR

It signs up a new user, signs in, writes a note, reads it back, lists it, finds it with search,
then sends bad requests and checks that each fails with the documented status code and a
message naming the offending field. It prints one line per step and exits 0 when every step
behaves as documented, 1 with a message naming the step that did not, 2 on a usage error.

GENERATED_DIR holds the modules generated from the contract, for example (from the repository
root, with `pip install grpcio==1.85.1 grpcio-tools==1.85.1`):

    python3 -m grpc_tools.protoc -I proto --python_out=GEN --grpc_python_out=GEN \
        $(find proto/pake -name '*.proto') proto/google/api/*.proto proto/google/rpc/*.proto

The generated `google/api` and `google/rpc` modules join the `google` namespace package that the
`protobuf` wheel provides (`google/protobuf`): neither directory has an `__init__.py`, so both
halves import side by side once GENERATED_DIR is on `sys.path`. The Rust test `tests/polyglot.rs`
does all of this by itself.
"""

import contextlib
import secrets
import sys

USAGE = "usage: python3 thread.py HOST:PORT GENERATED_DIR"

if len(sys.argv) != 3:
    print(USAGE, file=sys.stderr)
    sys.exit(2)
TARGET, GENERATED_DIR = sys.argv[1], sys.argv[2]
sys.path.insert(0, GENERATED_DIR)

import grpc  # noqa: E402  (needs GENERATED_DIR on sys.path only for what follows)
from google.rpc import error_details_pb2, status_pb2  # noqa: E402
from pake.identity.v1 import (  # noqa: E402
    identity_service_pb2_grpc,
    requests_pb2 as identity_requests,
    resources_pb2 as identity_resources,
)
from pake.knowledge.v1 import (  # noqa: E402
    knowledge_service_pb2 as knowledge,
    knowledge_service_pb2_grpc,
    resources_pb2 as knowledge_resources,
)
from pake.search.v1 import search_service_pb2 as search, search_service_pb2_grpc  # noqa: E402

PASSWORD = "correct horse battery staple 42!"
# Seconds for each call; Search may itself wait up to 5 s for the index to apply `min_cursor`.
CALL_TIMEOUT = 15
CONNECT_TIMEOUT = 10


class ThreadFailed(Exception):
    """A step did not behave as the contract documents."""


def check(condition, message):
    if not condition:
        raise ThreadFailed(message)


@contextlib.contextmanager
def step(title):
    """Runs one step: prints `ok` after it, or turns any failure into one naming the step."""
    try:
        yield
    except grpc.RpcError as error:
        raise ThreadFailed(
            f"{title}: unexpected {error.code().name}: {error.details()}"
        ) from None
    except ThreadFailed as failure:
        raise ThreadFailed(f"{title}: {failure}") from None
    print(f"ok    {title}", flush=True)


def expect_error(call, code, mentioning=None):
    """Makes `call()`, which must fail with `code` and a message containing `mentioning`."""
    try:
        response = call()
    except grpc.RpcError as error:
        check(
            error.code() == code,
            f"expected {code.name}, got {error.code().name}: {error.details()}",
        )
        if mentioning is not None:
            check(
                mentioning in (error.details() or ""),
                f"the {code.name} message does not mention `{mentioning}`: {error.details()!r}",
            )
        return error
    raise ThreadFailed(f"expected {code.name}, but the call succeeded: {response}")


def bad_request_fields(error):
    """The fields named by the google.rpc.BadRequest details of a failed call.

    The server sends the full google.rpc.Status, serialised, in the `grpc-status-details-bin`
    trailer; its `details` are `Any` messages, one of which should be a BadRequest.
    """
    trailers = dict(error.trailing_metadata() or ())
    raw_status = trailers.get("grpc-status-details-bin")
    check(raw_status, "no `grpc-status-details-bin` trailer: the error has no rich details")
    status = status_pb2.Status.FromString(raw_status)
    check(
        status.code == error.code().value[0],
        f"the details' status code {status.code} differs from the call's {error.code().name}",
    )
    fields = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            fields.extend(violation.field for violation in bad_request.field_violations)
    detail_types = [detail.type_url for detail in status.details]
    check(fields, f"no google.rpc.BadRequest field violation in the details {detail_types}")
    return fields


def run_thread(channel):
    identity = identity_service_pb2_grpc.IdentityServiceStub(channel)
    knowledge_service = knowledge_service_pb2_grpc.KnowledgeServiceStub(channel)
    search_service = search_service_pb2_grpc.SearchServiceStub(channel)
    unique = secrets.token_hex(4)

    with step("0. GetJwks publishes the token signing keys"):
        jwks = identity.GetJwks(identity_requests.GetJwksRequest(), timeout=CALL_TIMEOUT)
        check(jwks.keys, "no keys")
        check(all(key.kid and key.alg for key in jwks.keys), f"a key without kid or alg: {jwks}")

    username = f"py_{unique}"
    with step(f"1. CreateUser {username} anonymously"):
        user = identity.CreateUser(
            identity_requests.CreateUserRequest(
                user=identity_resources.User(username=username, display_name="Polyglot Python"),
                password=PASSWORD,
            ),
            timeout=CALL_TIMEOUT,
        )
        check(user.name.startswith("users/"), f"name {user.name!r} is not `users/…`")
        check(
            identity_resources.ROLE_EDITOR in user.roles,
            f"roles {list(user.roles)} lack ROLE_EDITOR",
        )

    with step("2. CreateSession with the password"):
        session = identity.CreateSession(
            identity_requests.CreateSessionRequest(username=username, password=PASSWORD),
            timeout=CALL_TIMEOUT,
        )
        parts = session.access_token.split(".")
        check(
            len(parts) == 3 and all(parts),
            f"access_token is not a compact JWS: {session.access_token!r}",
        )
        check(session.refresh_token, "refresh_token is empty")
    signed_in = (("authorization", f"Bearer {session.access_token}"),)

    title = f"Polyglot note {unique}"
    content = f"The zygomorphic{unique} flower is symmetric in one plane only."
    with step("3. CreateItem as the new user"):
        item = knowledge_service.CreateItem(
            knowledge.CreateItemRequest(
                item=knowledge_resources.Item(title=title, content=content, tags=["polyglot"])
            ),
            metadata=signed_in,
            timeout=CALL_TIMEOUT,
        )
        check(item.name.startswith("items/"), f"name {item.name!r} is not `items/…`")
        check(item.etag, "etag is empty")
        check(item.feed_cursor, "feed_cursor is empty")
        check(item.owner == user.name, f"owner {item.owner!r} is not {user.name!r}")

    with step(f"4. GetItem {item.name}"):
        fetched = knowledge_service.GetItem(
            knowledge.GetItemRequest(name=item.name), metadata=signed_in, timeout=CALL_TIMEOUT
        )
        check(fetched.title == title, f"title {fetched.title!r}, expected {title!r}")
        check(fetched.content == content, f"content {fetched.content!r}, expected {content!r}")

    with step("5. ListItems contains it"):
        listed = knowledge_service.ListItems(
            knowledge.ListItemsRequest(), metadata=signed_in, timeout=CALL_TIMEOUT
        )
        names = [listed_item.name for listed_item in listed.items]
        check(item.name in names, f"{item.name} not in {names}")

    query = f"zygomorphic{unique}"
    with step(f"6. Search {query!r} at the item's feed cursor finds it first"):
        found = search_service.Search(
            search.SearchRequest(query=query, min_cursor=item.feed_cursor),
            metadata=signed_in,
            timeout=CALL_TIMEOUT,
        )
        check(found.results, "no results")
        check(
            found.results[0].name == item.name,
            f"first result {found.results[0].name!r}, expected {item.name!r}",
        )

    with step("7a. CreateUser with an empty username is INVALID_ARGUMENT naming user.username"):
        error = expect_error(
            lambda: identity.CreateUser(
                identity_requests.CreateUserRequest(
                    user=identity_resources.User(username=""), password=PASSWORD
                ),
                timeout=CALL_TIMEOUT,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            mentioning="user.username",
        )
        fields = bad_request_fields(error)
        check("user.username" in fields, f"BadRequest names {fields}, not user.username")

    with step("7b. CreateUser with a 5-byte password is INVALID_ARGUMENT naming password"):
        expect_error(
            lambda: identity.CreateUser(
                identity_requests.CreateUserRequest(
                    user=identity_resources.User(username=f"py_short_{unique}"),
                    password="short",
                ),
                timeout=CALL_TIMEOUT,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            mentioning="password",
        )

    def create_item(item_title, metadata):
        return lambda: knowledge_service.CreateItem(
            knowledge.CreateItemRequest(item=knowledge_resources.Item(title=item_title)),
            metadata=metadata,
            timeout=CALL_TIMEOUT,
        )

    with step("7c. CreateItem without a token is UNAUTHENTICATED"):
        expect_error(create_item(title, ()), grpc.StatusCode.UNAUTHENTICATED)

    with step("7d. CreateItem with the token `garbage` is UNAUTHENTICATED"):
        garbage = (("authorization", "Bearer garbage"),)
        expect_error(create_item(title, garbage), grpc.StatusCode.UNAUTHENTICATED)

    with step("7e. CreateItem with an empty title is INVALID_ARGUMENT naming item.title"):
        expect_error(
            create_item("", signed_in),
            grpc.StatusCode.INVALID_ARGUMENT,
            mentioning="item.title",
        )

    with step("7f. GetItem items/does-not-exist is NOT_FOUND"):
        expect_error(
            lambda: knowledge_service.GetItem(
                knowledge.GetItemRequest(name="items/does-not-exist"),
                metadata=signed_in,
                timeout=CALL_TIMEOUT,
            ),
            grpc.StatusCode.NOT_FOUND,
        )


def main():
    print(f"python {sys.version.split()[0]}, grpcio {grpc.__version__}, server {TARGET}")
    with grpc.insecure_channel(TARGET) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT)
        except grpc.FutureTimeoutError:
            print(f"FAIL  cannot connect to {TARGET} within {CONNECT_TIMEOUT} s", file=sys.stderr)
            return 1
        try:
            run_thread(channel)
        except ThreadFailed as failure:
            print(f"FAIL  {failure}", file=sys.stderr)
            return 1
    print("the thread behaves as documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
