// The browser wallet as EIP-1193 describes it, and the chain switch every wallet panel needs.
import type { ApiClient } from "../context";

export interface Eip1193 {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
  on?(event: string, handler: (...args: unknown[]) => void): void;
}

/** The injected wallet (MetaMask or any EIP-1193 provider), if this browser has one. */
export function injectedWallet(): Eip1193 | null {
  const found = (window as unknown as { ethereum?: Eip1193 }).ethereum;
  return found && typeof found.request === "function" ? found : null;
}

/** The EIP-1193 error code (4001 user rejected, 4902 unknown chain), if there is one. */
export function providerCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

export function errorText(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === "string" && message ? message : String(error);
}

interface SwitchParams {
  wallet_switchEthereumChain: unknown[];
  wallet_addEthereumChain: unknown[];
}

/** Put the wallet on the platform's chain: switch, and add the chain first when the wallet
 * does not know it (error 4902). Resolves to the wallet's chain id afterwards. */
export async function switchToPlatformChain(wallet: Eip1193, api: ApiClient): Promise<number> {
  const params = await api.get<SwitchParams>("/metamask/network/switch");
  try {
    await wallet.request({ method: "wallet_switchEthereumChain", params: params.wallet_switchEthereumChain });
  } catch (error) {
    if (providerCode(error) !== 4902) throw error;
    await wallet.request({ method: "wallet_addEthereumChain", params: params.wallet_addEthereumChain });
    await wallet.request({ method: "wallet_switchEthereumChain", params: params.wallet_switchEthereumChain });
  }
  return chainIdOf(wallet);
}

export async function chainIdOf(wallet: Eip1193): Promise<number> {
  const hex = (await wallet.request({ method: "eth_chainId" })) as string;
  return Number.parseInt(hex, 16);
}

export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}
