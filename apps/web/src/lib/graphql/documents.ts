// Every GraphQL document the portal sends. Selections follow the contract; fragments are shared by the queries and
// the subscriptions so that a live update carries the same fields as the first load.

const PROGRESS_FIELDS = 'epoch totalEpochs loss reportedAt';

export const QUERY_SUMMARY_FIELDS = `
  id name status createdAt updatedAt datasetName datasetHash replication modelFormat modelSize
  executions { id status }
  report { verdict }
`;

export const QUERY_DETAIL_FIELDS = `
  id name status createdAt updatedAt deadlineAt datasetHash datasetName replication quorum tolerance
  training { epochs batchSize optimizer learningRate loss seed momentum }
  modelFormat modelSha256 modelSize
  executions {
    id dataOwnerId dataOwnerName status assignedAtNs startedAtNs finishedAtNs
    progress { ${PROGRESS_FIELDS} }
    lossCurve { ${PROGRESS_FIELDS} }
    resultSha256 resultSize error { code message } accepted rejectionReason
  }
  report {
    verdict canonicalExecutionId canonicalSha256 quorum tolerance verifiedAt
    entries { executionId dataOwnerId resultSha256 accepted maxAbsDiff relativeL2 reason }
  }
  timeline { at source kind executionId dataOwnerId txHash blockNumber status detail }
  resultDownloadUrl
`;

const CUSTOMER_FIELDS = 'id name email createdAt';
const API_TOKEN_FIELDS = 'id name prefix createdAt lastUsedAt revokedAt';
const DATASET_FIELDS = 'name contentHash schema rowCount activeHolders holders { dataOwnerId dataOwnerName rowCount }';

export const ME = `query Me { me { ${CUSTOMER_FIELDS} } }`;

export const SIGN_UP = `mutation SignUp($input: SignUpInput!) { signUp(input: $input) { ${CUSTOMER_FIELDS} } }`;

export const SIGN_IN = `mutation SignIn($input: SignInInput!) { signIn(input: $input) { ${CUSTOMER_FIELDS} } }`;

export const SIGN_OUT = 'mutation SignOut { signOut }';

export const QUERIES = `
  query Queries($first: Int, $after: String, $status: QueryStatus) {
    queries(first: $first, after: $after, status: $status) {
      edges { cursor node { ${QUERY_SUMMARY_FIELDS} } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
`;

export const QUERY = `query Query($id: ID!) { query(id: $id) { ${QUERY_DETAIL_FIELDS} } }`;

export const QUERY_UPDATED_SUMMARY = `subscription QueryUpdatedSummary { queryUpdated { ${QUERY_SUMMARY_FIELDS} } }`;

export const QUERY_UPDATED_DETAIL = `
  subscription QueryUpdatedDetail($id: ID!) { queryUpdated(id: $id) { ${QUERY_DETAIL_FIELDS} } }
`;

export const SUBMIT_QUERY = `
  mutation SubmitQuery($input: SubmitQueryInput!) { submitQuery(input: $input) { id status } }
`;

export const CANCEL_QUERY = `mutation CancelQuery($id: ID!) { cancelQuery(id: $id) { ${QUERY_DETAIL_FIELDS} } }`;

export const DATASETS = `query Datasets { datasets { ${DATASET_FIELDS} } }`;

export const DATA_OWNERS_AND_DATASETS = `
  query DataOwnersAndDatasets {
    dataOwners { id name status keyId lastSeenAt createdAt datasets { name contentHash rowCount } }
    datasets { ${DATASET_FIELDS} }
  }
`;

export const API_TOKENS = `query ApiTokens { apiTokens { ${API_TOKEN_FIELDS} } }`;

export const CREATE_API_TOKEN = `
  mutation CreateApiToken($name: String!) { createApiToken(name: $name) { token apiToken { ${API_TOKEN_FIELDS} } } }
`;

export const REVOKE_API_TOKEN = `mutation RevokeApiToken($id: ID!) { revokeApiToken(id: $id) { ${API_TOKEN_FIELDS} } }`;
