"""Secret stores: the local AES-GCM vault in Grekko's database, or HashiCorp Vault (KV v2).

`grekko.adapters.vault.hashicorp.HashiCorpVault` is imported from its module, so hvac and
requests load only when that backend is chosen.
"""

from grekko.adapters.vault.local import (
    LocalVault,
    key_from_env,
    key_from_passphrase,
    load_or_create_salt,
    new_master_key,
    open_local_vault,
)

__all__ = [
    "LocalVault",
    "key_from_env",
    "key_from_passphrase",
    "load_or_create_salt",
    "new_master_key",
    "open_local_vault",
]
