// Encode with the official WalletConnect SDK (@walletconnect/utils): reads a JSON array of
// operations on stdin, writes a JSON array of their results on stdout, one per operation.
// An operation the SDK refuses gives {"error": message} in its place.
import {
  deriveSymKey,
  encrypt,
  formatUri,
  generateKeyPair,
  generateRandomBytes32,
  hashKey,
  hashMessage,
} from "@walletconnect/utils";
import { payloadId } from "@walletconnect/jsonrpc-utils";

const OPERATIONS = {
  formatUri: (op) => ({
    uri: formatUri({
      protocol: "wc",
      version: 2,
      topic: op.topic,
      symKey: op.symKey,
      relay: { protocol: op.relayProtocol ?? "irn", ...(op.relayData && { data: op.relayData }) },
      expiryTimestamp: op.expiryTimestamp,
      methods: op.methods,
    }),
  }),
  generateKeyPair: () => generateKeyPair(),
  generateRandomBytes32: () => ({ key: generateRandomBytes32() }),
  deriveSymKey: (op) => ({ symKey: deriveSymKey(op.privateKey, op.publicKey) }),
  hashKey: (op) => ({ topic: hashKey(op.key) }),
  hashMessage: (op) => ({ hash: hashMessage(op.message) }),
  encrypt: (op) => ({
    encoded: encrypt({
      message: op.message,
      symKey: op.symKey,
      type: op.type,
      senderPublicKey: op.senderPublicKey,
      iv: op.iv,
      encoding: op.encoding,
    }),
  }),
  payloadId: () => ({ id: payloadId() }),
};

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = JSON.parse(input).map((op) => {
  const run = OPERATIONS[op.op];
  if (!run) return { error: `unknown operation ${op.op}` };
  try {
    return run(op);
  } catch (err) {
    return { error: String(err?.message ?? err) };
  }
});
process.stdout.write(JSON.stringify(results));
