// A wallet built on the official WalletConnect SDK (@walletconnect/sign-client), for the tests:
// it pairs with the URI it is given, approves the proposal with one devnet account and answers
// the dApp's requests, through the relay at argv[2].
//
//   node wc_wallet.mjs <relay-url> [chain-id]   (the account's private key in WC_WALLET_KEY,
//                                                 a node's JSON-RPC URL in WC_WALLET_RPC)
//
// Commands arrive as JSON lines on stdin: {"cmd":"pair","uri":...}, {"cmd":"disconnect"},
// {"cmd":"exit"}. What happens is reported as JSON lines on stdout ({"event":...}); the SDK's
// own logging goes to stderr. personal_sign is signed with the key (ox, EIP-191); a message
// containing "reject" is refused with the SDK's USER_REJECTED error, as a user would refuse it.
// eth_sendTransaction is handed to the node (a devnet whose dev accounts it signs for).
import { createInterface } from "node:readline";
import { SignClient } from "@walletconnect/sign-client";
import { getSdkError } from "@walletconnect/utils";
import { Address, Hex, PersonalMessage, Secp256k1, Signature } from "ox";

const [relayUrl, chainArg] = process.argv.slice(2);
const chainId = `eip155:${chainArg ?? "31337"}`;
const privateKey = process.env.WC_WALLET_KEY;
const rpcUrl = process.env.WC_WALLET_RPC;
if (!relayUrl || !privateKey) {
  console.error("usage: WC_WALLET_KEY=0x... node wc_wallet.mjs <relay-url> [chain-id]");
  process.exit(2);
}
const address = Address.fromPublicKey(Secp256k1.getPublicKey({ privateKey }));
const emit = (event, fields = {}) => process.stdout.write(`${JSON.stringify({ event, ...fields })}\n`);

// in memory: each run is a fresh wallet, and nothing lands on disk
const kept = new Map();
const storage = {
  getKeys: async () => [...kept.keys()],
  getEntries: async () => [...kept.entries()],
  getItem: async (key) => kept.get(key),
  setItem: async (key, value) => void kept.set(key, value),
  removeItem: async (key) => void kept.delete(key),
};

const client = await SignClient.init({
  projectId: "grekko-test-wallet",
  relayUrl,
  storage,
  logger: process.env.WC_WALLET_LOG ?? "error",
  telemetryEnabled: false,
  metadata: {
    name: "Grekko test wallet",
    description: "@walletconnect/sign-client as a wallet",
    url: "https://wallet.grekko.local",
    icons: [],
  },
});

client.on("session_proposal", async ({ id, params }) => {
  emit("proposal", { proposer: params.proposer.metadata.name, required: params.requiredNamespaces });
  const namespaces = {
    eip155: {
      chains: [chainId],
      accounts: [`${chainId}:${address}`],
      methods: ["eth_sendTransaction", "personal_sign"],
      events: ["accountsChanged", "chainChanged"],
    },
  };
  try {
    const { topic, acknowledged } = await client.approve({ id, namespaces });
    await acknowledged();
    emit("session", { topic, address });
  } catch (error) {
    emit("error", { where: "approve", message: String(error?.message ?? error) });
  }
});

client.on("session_request", async ({ topic, id, params }) => {
  const { method, params: args } = params.request;
  emit("request", { method, id });
  let response;
  try {
    response = { id, jsonrpc: "2.0", result: await answer(method, args) };
  } catch (error) {
    const refusal = error?.code ? error : { code: 5000, message: String(error?.message ?? error) };
    response = { id, jsonrpc: "2.0", error: { code: refusal.code, message: refusal.message } };
  }
  await client.respond({ topic, response });
  emit("responded", { method, id, ...("error" in response ? { error: response.error } : {}) });
});

client.on("session_delete", ({ topic }) => emit("deleted", { topic }));

async function answer(method, args) {
  if (method === "personal_sign") {
    const [message, signer] = args;
    if (signer.toLowerCase() !== address.toLowerCase()) throw getSdkError("UNAUTHORIZED_METHOD");
    if (Hex.toString(message).includes("reject")) throw getSdkError("USER_REJECTED");
    const signature = Secp256k1.sign({ payload: PersonalMessage.getSignPayload(message), privateKey });
    return Signature.toHex(signature);
  }
  if (method === "eth_sendTransaction" && rpcUrl) {
    const reply = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: 1, jsonrpc: "2.0", method, params: args }),
    }).then((r) => r.json());
    if (reply.error) throw { code: 5000, message: reply.error.message };
    return reply.result;
  }
  throw getSdkError("UNSUPPORTED_METHODS");
}

const commands = {
  pair: async ({ uri }) => {
    await client.core.pairing.pair({ uri });
    emit("paired");
  },
  disconnect: async () => {
    for (const session of client.session.getAll()) {
      await client.disconnect({ topic: session.topic, reason: getSdkError("USER_DISCONNECTED") });
      emit("disconnected", { topic: session.topic });
    }
  },
  exit: async () => process.exit(0),
};

emit("ready", { address });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const command = JSON.parse(line);
  try {
    await commands[command.cmd](command);
  } catch (error) {
    emit("error", { where: command.cmd, message: String(error?.message ?? error) });
  }
}
process.exit(0);
