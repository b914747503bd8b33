// The login screen: password (+ TOTP when the server asks for it) and Sign-In with Ethereum.
import { keccak_256 } from "@noble/hashes/sha3.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import type { HttpApiClient, Tokens } from "./api";
import { ApiError } from "./context";
import { el } from "./layout";

interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

declare global {
  interface Window {
    ethereum?: Eip1193Provider;
  }
}

export interface SiweNonce {
  nonce: string;
  expires_at: string;
  domain: string;
  chain_id: number;
}

const OTP_CODES = new Set(["mfa_required", "otp_invalid"]);
const SIWE_STATEMENT = "Sign in to Grekko.";

/** Show the login form in root; resolves once tokens are stored. */
export function showLogin(root: HTMLElement, api: HttpApiClient): Promise<void> {
  return new Promise((resolve) => {
    const form = new LoginForm(api, resolve);
    root.replaceChildren(form.element);
    form.focus();
  });
}

class LoginForm {
  readonly element: HTMLElement;
  private readonly username = el("input", {
    id: "login-username",
    name: "username",
    autocomplete: "username",
    required: "",
  });
  private readonly password = el("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: "",
  });
  private readonly otp = el("input", {
    id: "login-otp",
    name: "otp",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    pattern: "[0-9]{6}",
    maxlength: "6",
  });
  private readonly otpRow: HTMLElement;
  private readonly error = el("p", { class: "login-error", role: "alert" });
  private readonly submit = el("button", { type: "submit", class: "primary" }, "Sign in");

  constructor(
    private readonly api: HttpApiClient,
    private readonly done: () => void,
  ) {
    this.otpRow = field("Authenticator code", this.otp);
    this.otpRow.hidden = true;
    const form = el(
      "form",
      { class: "login-form", "aria-label": "Sign in" },
      field("Username", this.username),
      field("Password", this.password),
      this.otpRow,
      this.error,
      this.submit,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.passwordLogin();
    });
    const card = el(
      "div",
      { class: "login-card" },
      el("h1", { class: "logo login-logo" }, "Grekko"),
      el("p", { class: "login-sub" }, "Trading desk"),
      form,
    );
    if (window.ethereum) card.append(this.siweButton());
    this.element = el("main", { class: "login-page" }, card);
  }

  focus(): void {
    this.username.focus();
  }

  private siweButton(): HTMLElement {
    const button = el(
      "button",
      { type: "button", class: "secondary siwe" },
      "Sign in with Ethereum",
    );
    button.addEventListener("click", () => void this.siweLogin(button));
    return el("div", { class: "login-alt" }, el("span", { class: "login-or" }, "or"), button);
  }

  private async passwordLogin(): Promise<void> {
    await this.attempt(this.submit, () =>
      this.api.publicRequest<Tokens>("POST", "/auth/login", {
        username: this.username.value.trim(),
        password: this.password.value,
        otp: this.otpValue(),
      }),
    );
  }

  private async siweLogin(button: HTMLButtonElement): Promise<void> {
    await this.attempt(button, async () => {
      const ethereum = window.ethereum;
      if (!ethereum) throw new Error("No Ethereum wallet in this browser");
      const accounts = (await ethereum.request({ method: "eth_requestAccounts" })) as string[];
      if (!accounts?.length) throw new Error("The wallet shared no account");
      const address = toChecksumAddress(accounts[0]);
      const nonce = await this.api.publicRequest<SiweNonce>("GET", "/auth/siwe/nonce");
      const message = siweMessage(address, nonce, new Date());
      const hexMessage = `0x${bytesToHex(utf8ToBytes(message))}`;
      const signature = (await ethereum.request({
        method: "personal_sign",
        params: [hexMessage, address],
      })) as string;
      return this.api.publicRequest<Tokens>("POST", "/auth/siwe/login", {
        message,
        signature,
        otp: this.otpValue(),
      });
    });
  }

  private async attempt(button: HTMLButtonElement, login: () => Promise<Tokens>): Promise<void> {
    this.error.textContent = "";
    button.disabled = true;
    try {
      this.api.tokens.set(await login());
      this.done();
    } catch (error) {
      this.showError(error);
    } finally {
      button.disabled = false;
    }
  }

  private showError(error: unknown): void {
    if (error instanceof ApiError && OTP_CODES.has(error.problem.code)) {
      this.otpRow.hidden = false;
      this.otp.required = true;
      this.error.textContent =
        error.problem.code === "mfa_required"
          ? "Enter the 6-digit code from your authenticator app."
          : "That code is not valid; try the current one.";
      this.otp.focus();
      return;
    }
    if (error instanceof ApiError) {
      this.error.textContent = error.problem.detail || error.problem.title;
    } else {
      const text = error instanceof Error ? error.message : String(error);
      this.error.textContent = text || "Sign-in failed";
    }
  }

  private otpValue(): string | undefined {
    const code = this.otp.value.trim();
    return this.otpRow.hidden || !code ? undefined : code;
  }
}

function field(label: string, input: HTMLInputElement): HTMLElement {
  return el("div", { class: "login-field" }, el("label", { for: input.id }, label), input);
}

/** The EIP-4361 text exactly as the server's siwe package renders these fields. */
export function siweMessage(
  address: string,
  nonce: SiweNonce,
  issuedAt: Date,
  statement = SIWE_STATEMENT,
): string {
  const uri = `${location.protocol}//${nonce.domain}`;
  return [
    `${nonce.domain} wants you to sign in with your Ethereum account:`,
    address,
    "",
    statement,
    "",
    `URI: ${uri}`,
    "Version: 1",
    `Chain ID: ${nonce.chain_id}`,
    `Nonce: ${nonce.nonce}`,
    `Issued At: ${issuedAt.toISOString()}`,
  ].join("\n");
}

/** EIP-55 mixed-case checksum of a 0x address (wallets often hand out lower case). */
export function toChecksumAddress(address: string): string {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) throw new Error(`Not an Ethereum address: ${address}`);
  const lower = address.slice(2).toLowerCase();
  const hash = bytesToHex(keccak_256(utf8ToBytes(lower)));
  let out = "0x";
  for (let i = 0; i < lower.length; i += 1) {
    out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  }
  return out;
}
