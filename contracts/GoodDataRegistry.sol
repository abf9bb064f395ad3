// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title GoodData registry: announces queries, results and verdicts of the GoodData System (GDS).
/// @notice Only the GDS operator key writes. Every announcement is an event; the storage kept here is the minimum
/// that makes a repeated announcement fail, so that a transaction re-sent after a crash or a chain restart is
/// harmless: it reverts with one of the `...Already...` errors instead of announcing the same thing twice.
/// @dev Ids are UUIDs as bytes16 (the 16 bytes of the UUID, in order); hashes are SHA-256 as bytes32.
contract GoodDataRegistry {
    /// Longest ProgressLogged payload, in bytes: progress is a short status line, never data.
    uint256 public constant MAX_PROGRESS_PAYLOAD = 256;

    /// Verdicts of QueryVerified. 0 is never valid, so that a forgotten field cannot read as a verdict.
    uint8 public constant VERDICT_CONSISTENT = 1;
    uint8 public constant VERDICT_INCONSISTENT = 2;
    uint8 public constant VERDICT_FAILED = 3;

    address public operator;

    mapping(bytes16 queryId => bool) public isSubmitted;
    mapping(bytes16 queryId => bool) public isVerified;
    mapping(bytes16 queryId => mapping(bytes16 dataOwnerId => bool)) public isCompleted;

    event QuerySubmitted(
        bytes16 indexed queryId,
        bytes16 indexed customerId,
        bytes32 datasetHash,
        bytes32 modelHash,
        bytes16[] dataOwnerIds
    );
    event ExecutionCompleted(bytes16 indexed queryId, bytes16 indexed dataOwnerId, bytes32 resultHash);
    event QueryVerified(bytes16 indexed queryId, uint8 verdict, bytes32 canonicalResultHash);
    event ProgressLogged(bytes16 indexed queryId, bytes16 indexed dataOwnerId, bytes payload);
    event OperatorChanged(address indexed previousOperator, address indexed newOperator);

    error NotOperator(address caller);
    error ZeroAddress();
    error ZeroId();
    error NoDataOwners();
    error InvalidVerdict(uint8 verdict);
    error PayloadTooLong(uint256 length, uint256 max);
    error UnknownQuery(bytes16 queryId);
    error QueryAlreadySubmitted(bytes16 queryId);
    error ExecutionAlreadyCompleted(bytes16 queryId, bytes16 dataOwnerId);
    error QueryAlreadyVerified(bytes16 queryId);

    modifier onlyOperator() {
        if (msg.sender != operator) revert NotOperator(msg.sender);
        _;
    }

    /// The deploying account becomes the operator.
    constructor() {
        operator = msg.sender;
        emit OperatorChanged(address(0), msg.sender);
    }

    /// Hands the registry to another key (key rotation); the old key can no longer write.
    function changeOperator(address newOperator) external onlyOperator {
        if (newOperator == address(0)) revert ZeroAddress();

        emit OperatorChanged(operator, newOperator);
        operator = newOperator;
    }

    /// A query was accepted and assigned to these Data Owners; their agents wake up on this event.
    function submitQuery(
        bytes16 queryId,
        bytes16 customerId,
        bytes32 datasetHash,
        bytes32 modelHash,
        bytes16[] calldata dataOwnerIds
    ) external onlyOperator {
        if (queryId == bytes16(0)) revert ZeroId();
        if (dataOwnerIds.length == 0) revert NoDataOwners();
        if (isSubmitted[queryId]) revert QueryAlreadySubmitted(queryId);

        isSubmitted[queryId] = true;
        emit QuerySubmitted(queryId, customerId, datasetHash, modelHash, dataOwnerIds);
    }

    /// A Data Owner returned its result for a query.
    function completeExecution(bytes16 queryId, bytes16 dataOwnerId, bytes32 resultHash) external onlyOperator {
        if (!isSubmitted[queryId]) revert UnknownQuery(queryId);
        if (isCompleted[queryId][dataOwnerId]) revert ExecutionAlreadyCompleted(queryId, dataOwnerId);

        isCompleted[queryId][dataOwnerId] = true;
        emit ExecutionCompleted(queryId, dataOwnerId, resultHash);
    }

    /// The consistency check decided; canonicalResultHash is zero when there is no canonical result.
    function verifyQuery(bytes16 queryId, uint8 verdict, bytes32 canonicalResultHash) external onlyOperator {
        if (!isSubmitted[queryId]) revert UnknownQuery(queryId);
        if (verdict == 0 || verdict > VERDICT_FAILED) revert InvalidVerdict(verdict);
        if (isVerified[queryId]) revert QueryAlreadyVerified(queryId);

        isVerified[queryId] = true;
        emit QueryVerified(queryId, verdict, canonicalResultHash);
    }

    /// A short progress line of a Data Owner's work (the original system's LogAdded). Not deduplicated: progress
    /// lines are many and harmless; the relay's outbox is what keeps them from being sent twice.
    function logProgress(bytes16 queryId, bytes16 dataOwnerId, bytes calldata payload) external onlyOperator {
        if (!isSubmitted[queryId]) revert UnknownQuery(queryId);
        if (payload.length > MAX_PROGRESS_PAYLOAD) revert PayloadTooLong(payload.length, MAX_PROGRESS_PAYLOAD);

        emit ProgressLogged(queryId, dataOwnerId, payload);
    }
}
