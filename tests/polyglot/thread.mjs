// PAKE's "first thread" from Node.js, with @grpc/grpc-js and @grpc/proto-loader reading proto/.
//
// Usage:
//     node thread.mjs HOST:PORT PROTO_ROOT
//
// PROTO_ROOT is the repository's `proto/` directory; no code is generated: proto-loader reads
// the .proto files at start-up (the google/protobuf well-known types come with protobufjs).
//
// It signs up a new user, signs in, writes a note, reads it back, lists it, finds it with search,
// then sends bad requests and checks that each fails with the documented status code and a
// message naming the offending field. It prints one line per step and exits 0 when every step
// behaves as documented, 1 with a message naming the step that did not, 2 on a usage error.
//
// The two packages are loaded with `require` (CommonJS resolution), so they are found in a
// `node_modules` next to this file or above it, or in the directories listed in NODE_PATH:
//
//     npm install --prefix /tmp/pake-node @grpc/grpc-js@1.14.7 @grpc/proto-loader@0.8.1
//     NODE_PATH=/tmp/pake-node/node_modules node thread.mjs 127.0.0.1:50051 proto
//
// (An ES `import` would ignore NODE_PATH.) The Rust test `tests/polyglot.rs` does this by itself.

import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import process from "node:process";

const require = createRequire(import.meta.url);
let grpc, protoLoader;
try {
  grpc = require("@grpc/grpc-js");
  protoLoader = require("@grpc/proto-loader");
} catch (error) {
  console.error(`cannot load @grpc/grpc-js and @grpc/proto-loader (${error.message.split("\n")[0]});`);
  console.error("install them and point NODE_PATH at their node_modules directory");
  process.exit(2);
}

const PASSWORD = "correct horse battery staple 42!";
// Milliseconds for each call; Search may itself wait up to 5 s for the index to apply
// `min_cursor`.
const CALL_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;

class ThreadFailed extends Error {}

function check(condition, message) {
  if (!condition) throw new ThreadFailed(message);
}

/** The name of a numeric gRPC status code, e.g. `INVALID_ARGUMENT`. */
function codeName(code) {
  return Object.keys(grpc.status).find((name) => grpc.status[name] === code) ?? `code ${code}`;
}

/** Whether `error` is the failure of a gRPC call (rather than a bug in this script). */
function isCallError(error) {
  return error instanceof Error && typeof error.code === "number" && "details" in error;
}

/** Runs one step: prints `ok` after it, or turns any failure into one naming the step. */
async function step(title, body) {
  try {
    const result = await body();
    console.log(`ok    ${title}`);
    return result;
  } catch (error) {
    if (isCallError(error)) {
      throw new ThreadFailed(`${title}: unexpected ${codeName(error.code)}: ${error.details}`);
    }
    if (error instanceof ThreadFailed) throw new ThreadFailed(`${title}: ${error.message}`);
    throw error;
  }
}

/** Calls a unary method and resolves with its response; `token` adds `authorization`. */
function call(client, method, request, token) {
  const metadata = new grpc.Metadata();
  if (token !== undefined) metadata.add("authorization", `Bearer ${token}`);
  const deadline = Date.now() + CALL_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline }, (error, response) =>
      error ? reject(error) : resolve(response),
    );
  });
}

/** Makes the call, which must fail with `code` (a name) and a message containing `mentioning`. */
async function expectError(pending, code, mentioning) {
  let response;
  try {
    response = await pending;
  } catch (error) {
    if (!isCallError(error)) throw error;
    check(
      error.code === grpc.status[code],
      `expected ${code}, got ${codeName(error.code)}: ${error.details}`,
    );
    if (mentioning !== undefined) {
      check(
        error.details.includes(mentioning),
        `the ${code} message does not mention \`${mentioning}\`: ${JSON.stringify(error.details)}`,
      );
    }
    return error;
  }
  throw new ThreadFailed(`expected ${code}, but the call succeeded: ${JSON.stringify(response)}`);
}

function loadClients(target, protoRoot) {
  const definition = protoLoader.loadSync(
    [
      "pake/identity/v1/identity_service.proto",
      "pake/knowledge/v1/knowledge_service.proto",
      "pake/search/v1/search_service.proto",
    ],
    // Field names as in the .proto (snake_case), enums as their names, int64 as strings.
    { includeDirs: [protoRoot], keepCase: true, enums: String, longs: String, defaults: true },
  );
  const pake = grpc.loadPackageDefinition(definition).pake;
  const credentials = grpc.credentials.createInsecure();
  return {
    identity: new pake.identity.v1.IdentityService(target, credentials),
    knowledge: new pake.knowledge.v1.KnowledgeService(target, credentials),
    search: new pake.search.v1.SearchService(target, credentials),
  };
}

async function runThread({ identity, knowledge, search }) {
  const unique = randomBytes(4).toString("hex");

  await step("0. GetJwks publishes the token signing keys", async () => {
    const jwks = await call(identity, "GetJwks", {});
    check(jwks.keys.length > 0, "no keys");
    check(
      jwks.keys.every((key) => key.kid && key.alg),
      `a key without kid or alg: ${JSON.stringify(jwks)}`,
    );
  });

  const username = `js_${unique}`;
  const user = await step(`1. CreateUser ${username} anonymously`, async () => {
    const created = await call(identity, "CreateUser", {
      user: { username, display_name: "Polyglot Node" },
      password: PASSWORD,
    });
    check(created.name.startsWith("users/"), `name ${created.name} is not \`users/…\``);
    check(created.roles.includes("ROLE_EDITOR"), `roles ${created.roles} lack ROLE_EDITOR`);
    return created;
  });

  const token = await step("2. CreateSession with the password", async () => {
    const session = await call(identity, "CreateSession", { username, password: PASSWORD });
    const parts = session.access_token.split(".");
    check(
      parts.length === 3 && parts.every((part) => part.length > 0),
      `access_token is not a compact JWS: ${JSON.stringify(session.access_token)}`,
    );
    check(session.refresh_token.length > 0, "refresh_token is empty");
    return session.access_token;
  });

  const title = `Polyglot note ${unique}`;
  const content = `The zygomorphic${unique} flower is symmetric in one plane only.`;
  const item = await step("3. CreateItem as the new user", async () => {
    const created = await call(
      knowledge,
      "CreateItem",
      { item: { title, content, tags: ["polyglot"] } },
      token,
    );
    check(created.name.startsWith("items/"), `name ${created.name} is not \`items/…\``);
    check(created.etag.length > 0, "etag is empty");
    check(created.feed_cursor.length > 0, "feed_cursor is empty");
    check(created.owner === user.name, `owner ${created.owner} is not ${user.name}`);
    return created;
  });

  await step(`4. GetItem ${item.name}`, async () => {
    const fetched = await call(knowledge, "GetItem", { name: item.name }, token);
    check(fetched.title === title, `title ${JSON.stringify(fetched.title)}, expected ${title}`);
    check(fetched.content === content, `content ${JSON.stringify(fetched.content)}, expected ${content}`);
  });

  await step("5. ListItems contains it", async () => {
    const listed = await call(knowledge, "ListItems", {}, token);
    const names = listed.items.map((listedItem) => listedItem.name);
    check(names.includes(item.name), `${item.name} not in [${names}]`);
  });

  const query = `zygomorphic${unique}`;
  await step(`6. Search "${query}" at the item's feed cursor finds it first`, async () => {
    const found = await call(search, "Search", { query, min_cursor: item.feed_cursor }, token);
    check(found.results.length > 0, "no results");
    check(
      found.results[0].name === item.name,
      `first result ${found.results[0].name}, expected ${item.name}`,
    );
  });

  await step("7a. CreateUser with an empty username is INVALID_ARGUMENT naming user.username", async () => {
    const error = await expectError(
      call(identity, "CreateUser", { user: { username: "" }, password: PASSWORD }),
      "INVALID_ARGUMENT",
      "user.username",
    );
    // The full google.rpc.Status (with its BadRequest) travels in this trailer; thread.py
    // decodes it, here it is enough that it arrives.
    const details = error.metadata.get("grpc-status-details-bin");
    check(details.length === 1 && details[0].length > 0, "no `grpc-status-details-bin` trailer");
  });

  await step("7b. CreateUser with a 5-byte password is INVALID_ARGUMENT naming password", () =>
    expectError(
      call(identity, "CreateUser", {
        user: { username: `js_short_${unique}` },
        password: "short",
      }),
      "INVALID_ARGUMENT",
      "password",
    ),
  );

  const createItem = (itemTitle, itemToken) =>
    call(knowledge, "CreateItem", { item: { title: itemTitle } }, itemToken);

  await step("7c. CreateItem without a token is UNAUTHENTICATED", () =>
    expectError(createItem(title, undefined), "UNAUTHENTICATED"),
  );

  await step("7d. CreateItem with the token `garbage` is UNAUTHENTICATED", () =>
    expectError(createItem(title, "garbage"), "UNAUTHENTICATED"),
  );

  await step("7e. CreateItem with an empty title is INVALID_ARGUMENT naming item.title", () =>
    expectError(createItem("", token), "INVALID_ARGUMENT", "item.title"),
  );

  await step("7f. GetItem items/does-not-exist is NOT_FOUND", () =>
    expectError(call(knowledge, "GetItem", { name: "items/does-not-exist" }, token), "NOT_FOUND"),
  );
}

function waitForReady(client) {
  return new Promise((resolve, reject) =>
    client.waitForReady(Date.now() + CONNECT_TIMEOUT_MS, (error) => (error ? reject(error) : resolve())),
  );
}

async function main(args) {
  if (args.length !== 2) {
    console.error("usage: node thread.mjs HOST:PORT PROTO_ROOT");
    return 2;
  }
  const [target, protoRoot] = args;
  const { version } = require("@grpc/grpc-js/package.json");
  console.log(`node ${process.versions.node}, @grpc/grpc-js ${version}, server ${target}`);
  const clients = loadClients(target, protoRoot);
  try {
    await waitForReady(clients.identity);
  } catch {
    console.error(`FAIL  cannot connect to ${target} within ${CONNECT_TIMEOUT_MS / 1000} s`);
    return 1;
  }
  try {
    await runThread(clients);
  } catch (error) {
    if (!(error instanceof ThreadFailed)) throw error;
    console.error(`FAIL  ${error.message}`);
    return 1;
  } finally {
    for (const client of Object.values(clients)) client.close();
  }
  console.log("the thread behaves as documented");
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
