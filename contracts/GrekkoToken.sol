// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title GrekkoToken
/// @notice A plain ERC-20 for the local devnet (USDC, WBTC, UNI stand-ins) with the real tokens'
///         decimals, so amounts on the devnet scale exactly as they do on mainnet.
contract GrekkoToken is ERC20, Ownable {
    uint8 private immutable _decimals;

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        uint256 initialSupply,
        address owner_
    ) ERC20(name_, symbol_) Ownable(owner_) {
        _decimals = decimals_;
        if (initialSupply > 0) {
            _mint(owner_, initialSupply);
        }
    }

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice The devnet's faucet: only the deployer's account may create new units.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
