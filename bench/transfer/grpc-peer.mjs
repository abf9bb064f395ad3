// The far end of the raw gRPC baseline, run as a child process by baselines.mjs (measureGrpc): plain @grpc/grpc-js
// serving the real gooddata.v1 contract with no Nest, no auth and no storage, so that the bench can tell the cost
// of gRPC itself from the cost of the API. Reports its port over IPC.
//   SubmitQuery:  drops the chunks and replies with their byte count in model_size.
//   GetQueryInfo: sends a header, then query_id (a decimal byte count) payload bytes, with backpressure.
import { once } from 'node:events';

import * as grpc from '@grpc/grpc-js';
import { MAX_GRPC_MESSAGE_BYTES } from '@gds/common';
import { loadGoodData } from '@gds/proto';

import { payloadChunks } from './baselines.mjs';

const { gooddata } = loadGoodData();
const server = new grpc.Server({
  'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_BYTES,
  'grpc.max_send_message_length': MAX_GRPC_MESSAGE_BYTES,
});
server.addService(gooddata.v1.GoodDataService.service, {
  SubmitQuery(call, callback) {
    let received = 0;
    call.on('data', (message) => { if (message.payload === 'chunk') received += message.chunk.length; });
    call.on('end', () => callback(null, { modelSize: String(received) }));
    call.on('error', () => {});
  },
  async GetQueryInfo(call) {
    const total = Number(call.request.queryId);
    call.write({ header: { queryId: call.request.queryId, modelSize: String(total) } });
    for (const chunk of payloadChunks(total)) {
      if (call.cancelled) return;
      if (!call.write({ chunk })) await once(call, 'drain');
    }
    call.end();
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.send({ port });
});
process.on('disconnect', () => process.exit(0));
