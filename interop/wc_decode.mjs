// Decode with the official WalletConnect SDK (@walletconnect/utils): reads a JSON array of
// operations on stdin, writes a JSON array of their results on stdout, one per operation.
// An operation the SDK refuses gives {"error": message} in its place.
import {
  decodeTypeByte,
  decrypt,
  deriveSymKey,
  deserialize,
  parseUri,
  validateDecoding,
} from "@walletconnect/utils";

const hex = (bytes) => (bytes === undefined ? null : Buffer.from(bytes).toString("hex"));

const OPERATIONS = {
  parseUri: (op) => parseUri(op.uri),
  decrypt: (op) => ({
    message: decrypt({ encoded: op.encoded, symKey: op.symKey, encoding: op.encoding }),
  }),
  deserialize: (op) => {
    const parts = deserialize({ encoded: op.encoded, encoding: op.encoding });
    return {
      type: decodeTypeByte(parts.type),
      iv: hex(parts.iv),
      sealed: hex(parts.sealed),
      senderPublicKey: hex(parts.senderPublicKey),
    };
  },
  validateDecoding: (op) =>
    validateDecoding(op.encoded, { receiverPublicKey: op.receiverPublicKey, encoding: op.encoding }),
  // a type 1 envelope opened as @walletconnect/core's Crypto.decode opens it: the key is derived
  // from the receiver's private key and the sender's public key carried in the envelope
  openTypeOne: (op) => {
    const { type, senderPublicKey } = validateDecoding(op.encoded, {
      receiverPublicKey: op.receiverPublicKey,
      encoding: op.encoding,
    });
    if (type !== 1) throw new Error(`not a type 1 envelope: type ${type}`);
    const symKey = deriveSymKey(op.receiverPrivateKey, senderPublicKey);
    return { message: decrypt({ encoded: op.encoded, symKey, encoding: op.encoding }), senderPublicKey };
  },
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
