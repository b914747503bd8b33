"""Wallets behind the WalletProvider port: the encrypted keystore now; MetaMask, WalletConnect and
Coinbase Wallet come later, each in its own module."""

from grekko.adapters.wallets.keystore import KeystoreWallet, keystore_path

__all__ = ["KeystoreWallet", "keystore_path"]
