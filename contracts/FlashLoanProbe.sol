// SPDX-License-Identifier: MIT
pragma solidity ^0.8.10;

import {IFlashLoanSimpleReceiver} from "@aave/core-v3/contracts/flashloan/interfaces/IFlashLoanSimpleReceiver.sol";
import {IPoolAddressesProvider} from "@aave/core-v3/contracts/interfaces/IPoolAddressesProvider.sol";
import {IPool} from "@aave/core-v3/contracts/interfaces/IPool.sol";
import {IERC20} from "@aave/core-v3/contracts/dependencies/openzeppelin/contracts/IERC20.sol";

/// @title FlashLoanProbe
/// @notice Takes an Aave V3 simple flash loan and pays it straight back, remembering what it was
///         lent, so a test (or the desk) can see the pool lend and charge its premium. The premium
///         comes out of whatever the probe holds beforehand: an unfunded probe cannot repay.
contract FlashLoanProbe is IFlashLoanSimpleReceiver {
    IPoolAddressesProvider public immutable override ADDRESSES_PROVIDER;
    IPool public immutable override POOL;

    address public lastAsset;
    uint256 public lastAmount;
    uint256 public lastPremium;
    address public lastInitiator;
    uint256 public balanceDuringLoan; // what the probe held while the loan was out
    uint256 public loans;

    event FlashLoanReceived(
        address indexed asset,
        uint256 amount,
        uint256 premium,
        address indexed initiator
    );

    constructor(IPoolAddressesProvider provider) {
        ADDRESSES_PROVIDER = provider;
        POOL = IPool(provider.getPool());
    }

    function executeOperation(
        address asset,
        uint256 amount,
        uint256 premium,
        address initiator,
        bytes calldata
    ) external override returns (bool) {
        require(msg.sender == address(POOL), "FlashLoanProbe: caller is not the pool");
        lastAsset = asset;
        lastAmount = amount;
        lastPremium = premium;
        lastInitiator = initiator;
        balanceDuringLoan = IERC20(asset).balanceOf(address(this));
        loans += 1;
        IERC20(asset).approve(address(POOL), amount + premium);
        emit FlashLoanReceived(asset, amount, premium, initiator);
        return true;
    }
}
