-- CreateEnum
CREATE TYPE "DataOwnerStatus" AS ENUM ('ACTIVE', 'SUSPENDED');

-- CreateEnum
CREATE TYPE "ModelFormat" AS ENUM ('TORCH_SAVE', 'PICKLE', 'TORCHSCRIPT', 'TORCH_ARCHIVE');

-- CreateEnum
CREATE TYPE "QueryStatus" AS ENUM ('PENDING', 'RUNNING', 'VERIFYING', 'COMPLETED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "Verdict" AS ENUM ('CONSISTENT', 'INCONSISTENT');

-- CreateEnum
CREATE TYPE "ExecutionStatus" AS ENUM ('ASSIGNED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateTable
CREATE TABLE "Customer" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "email" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Customer_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DataOwner" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "publicKey" BYTEA NOT NULL,
    "keyId" TEXT NOT NULL,
    "status" "DataOwnerStatus" NOT NULL DEFAULT 'ACTIVE',
    "lastSeenAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DataOwner_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Dataset" (
    "id" UUID NOT NULL,
    "dataOwnerId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "contentHash" TEXT NOT NULL,
    "rowCount" BIGINT NOT NULL,
    "schema" JSONB NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Blob" (
    "id" UUID NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Blob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "BlobChunk" (
    "blobId" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "BlobChunk_pkey" PRIMARY KEY ("blobId","seq")
);

-- CreateTable
CREATE TABLE "Query" (
    "id" UUID NOT NULL,
    "customerId" UUID NOT NULL,
    "name" TEXT,
    "modelBlobId" UUID NOT NULL,
    "modelFormat" "ModelFormat" NOT NULL,
    "trainingSpec" JSONB NOT NULL,
    "datasetHash" TEXT NOT NULL,
    "replication" INTEGER NOT NULL,
    "quorum" INTEGER NOT NULL,
    "tolerance" DOUBLE PRECISION NOT NULL,
    "deadlineAt" TIMESTAMP(3) NOT NULL,
    "status" "QueryStatus" NOT NULL DEFAULT 'PENDING',
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "verdict" "Verdict",
    "canonicalExecutionId" UUID,
    "report" JSONB,
    "verifiedAt" TIMESTAMP(3),

    CONSTRAINT "Query_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Execution" (
    "id" UUID NOT NULL,
    "queryId" UUID NOT NULL,
    "dataOwnerId" UUID NOT NULL,
    "status" "ExecutionStatus" NOT NULL DEFAULT 'ASSIGNED',
    "assignedAtNs" BIGINT NOT NULL,
    "startedAtNs" BIGINT,
    "finishedAtNs" BIGINT,
    "progressEpoch" INTEGER,
    "progressTotal" INTEGER,
    "progressLoss" DOUBLE PRECISION,
    "progressAtNs" BIGINT,
    "resultBlobId" UUID,
    "errorCode" TEXT,
    "errorMessage" TEXT,
    "isAccepted" BOOLEAN,
    "rejectionReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Execution_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ProgressEntry" (
    "id" BIGSERIAL NOT NULL,
    "executionId" UUID NOT NULL,
    "epoch" INTEGER NOT NULL,
    "totalEpochs" INTEGER NOT NULL,
    "loss" DOUBLE PRECISION NOT NULL,
    "reportedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ProgressEntry_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Customer_email_key" ON "Customer"("email");

-- CreateIndex
CREATE UNIQUE INDEX "ApiToken_tokenHash_key" ON "ApiToken"("tokenHash");

-- CreateIndex
CREATE INDEX "ApiToken_customerId_idx" ON "ApiToken"("customerId");

-- CreateIndex
CREATE UNIQUE INDEX "DataOwner_keyId_key" ON "DataOwner"("keyId");

-- CreateIndex
CREATE INDEX "Dataset_contentHash_idx" ON "Dataset"("contentHash");

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_dataOwnerId_name_key" ON "Dataset"("dataOwnerId", "name");

-- CreateIndex
CREATE INDEX "Query_customerId_createdAt_idx" ON "Query"("customerId", "createdAt");

-- CreateIndex
CREATE INDEX "Query_status_idx" ON "Query"("status");

-- CreateIndex
CREATE INDEX "Execution_dataOwnerId_status_idx" ON "Execution"("dataOwnerId", "status");

-- CreateIndex
CREATE UNIQUE INDEX "Execution_queryId_dataOwnerId_key" ON "Execution"("queryId", "dataOwnerId");

-- CreateIndex
CREATE UNIQUE INDEX "ProgressEntry_executionId_epoch_key" ON "ProgressEntry"("executionId", "epoch");

-- AddForeignKey
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Dataset" ADD CONSTRAINT "Dataset_dataOwnerId_fkey" FOREIGN KEY ("dataOwnerId") REFERENCES "DataOwner"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "BlobChunk" ADD CONSTRAINT "BlobChunk_blobId_fkey" FOREIGN KEY ("blobId") REFERENCES "Blob"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Query" ADD CONSTRAINT "Query_customerId_fkey" FOREIGN KEY ("customerId") REFERENCES "Customer"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Query" ADD CONSTRAINT "Query_modelBlobId_fkey" FOREIGN KEY ("modelBlobId") REFERENCES "Blob"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Execution" ADD CONSTRAINT "Execution_queryId_fkey" FOREIGN KEY ("queryId") REFERENCES "Query"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Execution" ADD CONSTRAINT "Execution_dataOwnerId_fkey" FOREIGN KEY ("dataOwnerId") REFERENCES "DataOwner"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Execution" ADD CONSTRAINT "Execution_resultBlobId_fkey" FOREIGN KEY ("resultBlobId") REFERENCES "Blob"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ProgressEntry" ADD CONSTRAINT "ProgressEntry_executionId_fkey" FOREIGN KEY ("executionId") REFERENCES "Execution"("id") ON DELETE CASCADE ON UPDATE CASCADE;


-- Added to the generated migration: blob chunks are model weights, which pglz cannot shrink; storing them
-- uncompressed saves the compression attempt on every write.
ALTER TABLE "BlobChunk" ALTER COLUMN "data" SET STORAGE EXTERNAL;
