// Drives the npm ngrok package's NgrokClient against a TunnelPS web inspector and prints what it saw as one JSON
// line. Used by tests/Pester/Inspector.NgrokClient.Tests.ps1:
//   node drive.js <inspect-url> read     lists tunnels and requests, reads the newest request's detail, replays it
//   node drive.js <inspect-url> delete   deletes every captured request
// A refused call prints {"error": ..., "status": ...} and exits 1.
'use strict';
const { NgrokClient } = require('ngrok');

async function main() {
  const [url, step] = process.argv.slice(2);
  const client = new NgrokClient(url);
  if (step === 'delete') {
    return { deleted: await client.deleteAllRequests() };
  }
  const tunnels = (await client.listTunnels()).tunnels.map((t) => ({ name: t.name, proto: t.proto, public_url: t.public_url }));
  const details = await Promise.all(tunnels.map((t) => client.tunnelDetail(encodeURIComponent(t.name))));
  const requests = (await client.listRequests({ limit: 10 })).requests;
  const newest = requests[0];
  const detail = await client.requestDetail(newest.id);
  const replayed = await client.replayRequest(newest.id);
  return {
    tunnels,
    details: details.map((d) => ({ name: d.name, public_url: d.public_url })),
    request_ids: requests.map((r) => r.id),
    detail: {
      id: detail.id,
      raw_request: Buffer.from(detail.request.raw, 'base64').toString('latin1'),
      raw_response: Buffer.from(detail.response.raw, 'base64').toString('latin1'),
    },
    replayed,
  };
}

main().then(
  (result) => console.log(JSON.stringify(result)),
  (error) => {
    console.log(JSON.stringify({ error: error.message, status: error.response ? error.response.statusCode : null }));
    process.exitCode = 1;
  });
