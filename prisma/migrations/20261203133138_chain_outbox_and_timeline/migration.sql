-- CreateEnum
CREATE TYPE "ChainEventKind" AS ENUM ('QUERY_SUBMITTED', 'EXECUTION_COMPLETED', 'QUERY_VERIFIED', 'PROGRESS_LOGGED');

-- CreateEnum
CREATE TYPE "OutboxStatus" AS ENUM ('PENDING', 'SENT', 'CONFIRMED', 'REJECTED');

-- CreateTable
CREATE TABLE "ChainOutbox" (
    "id" BIGSERIAL NOT NULL,
    "queryId" UUID NOT NULL,
    "kind" "ChainEventKind" NOT NULL,
    "dedupeKey" TEXT NOT NULL DEFAULT '',
    "payload" JSONB NOT NULL,
    "status" "OutboxStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "signer" TEXT,
    "nonce" BIGINT,
    "rawTx" TEXT,
    "txHash" TEXT,
    "blockNumber" BIGINT,
    "blockHash" TEXT,
    "logIndex" INTEGER,
    "lastError" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sentAt" TIMESTAMP(3),
    "confirmedAt" TIMESTAMP(3),

    CONSTRAINT "ChainOutbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "QueryEvent" (
    "id" BIGSERIAL NOT NULL,
    "queryId" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "executionId" UUID,
    "dataOwnerId" UUID,
    "detail" JSONB NOT NULL DEFAULT '{}',
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "QueryEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ChainOutbox_status_id_idx" ON "ChainOutbox"("status", "id");

-- CreateIndex
CREATE UNIQUE INDEX "ChainOutbox_queryId_kind_dedupeKey_key" ON "ChainOutbox"("queryId", "kind", "dedupeKey");

-- CreateIndex
CREATE INDEX "QueryEvent_queryId_at_idx" ON "QueryEvent"("queryId", "at");

-- AddForeignKey
ALTER TABLE "ChainOutbox" ADD CONSTRAINT "ChainOutbox_queryId_fkey" FOREIGN KEY ("queryId") REFERENCES "Query"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "QueryEvent" ADD CONSTRAINT "QueryEvent_queryId_fkey" FOREIGN KEY ("queryId") REFERENCES "Query"("id") ON DELETE CASCADE ON UPDATE CASCADE;

