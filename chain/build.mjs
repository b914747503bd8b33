// Compiles our own contracts (../contracts/*.sol) with solcjs into build/<Name>.json (abi + bytecode).
// Protocol contracts are not compiled here: their published npm artifacts are used as they are.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const contractsDir = resolve(here, "..", "contracts");
const buildDir = join(here, "build");
const modulesDir = join(here, "node_modules");

function findImports(path) {
  for (const base of [modulesDir, contractsDir]) {
    try {
      return { contents: readFileSync(join(base, path), "utf8") };
    } catch {
      // try the next root
    }
  }
  return { error: `import not found: ${path}` };
}

const files = readdirSync(contractsDir).filter((name) => name.endsWith(".sol"));
if (files.length === 0) {
  console.error(`no .sol files in ${contractsDir}`);
  process.exit(1);
}
const sources = Object.fromEntries(
  files.map((name) => [name, { content: readFileSync(join(contractsDir, name), "utf8") }]),
);
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors ?? []).filter((e) => e.severity === "error");
for (const message of output.errors ?? []) console.error(message.formattedMessage);
if (errors.length > 0) process.exit(1);

mkdirSync(buildDir, { recursive: true });
for (const name of files) {
  for (const [contract, out] of Object.entries(output.contracts[name] ?? {})) {
    const artifact = {
      contractName: contract,
      sourceName: `contracts/${name}`,
      compiler: `solc ${solc.version()}`,
      abi: out.abi,
      bytecode: `0x${out.evm.bytecode.object}`,
      deployedBytecode: `0x${out.evm.deployedBytecode.object}`,
    };
    if (out.evm.bytecode.object.length === 0) continue; // interfaces and abstract contracts
    writeFileSync(join(buildDir, `${contract}.json`), `${JSON.stringify(artifact, null, 1)}\n`);
    console.log(`built ${contract} -> ${join("build", `${contract}.json`)}`);
  }
}
