/**
 * The gateway's socket.io parser: a payload marked with its JSON text is
 * encoded from that text, byte for byte what the default encoder makes of the
 * payload; everything else is the default encoder's.
 */
import * as parser from "socket.io-parser";
import { preencodedParser, withJsonText } from "../../server/preencoded-parser";

const payload = {
  scope: "user:1",
  jobs: {
    "job-1": { id: "job-1", seq: 3, percent: 40, meta: { file: 'a\u00e9"b.csv', n: [1, 2.5] } },
    "job-2": null,
  },
};

function event(data: unknown[], nsp = "/", id?: number): parser.Packet {
  return { type: parser.PacketType.EVENT, nsp, data, id };
}

const plain = new parser.Encoder();
const ours = new preencodedParser.Encoder();

test("a payload with its JSON text encodes as the default encoder encodes the payload", () => {
  const marked = withJsonText({ ...payload }, JSON.stringify(payload));
  expect(ours.encode(event(["progress", marked]))).toEqual(
    plain.encode(event(["progress", payload])),
  );
  expect(ours.encode(event(["progress", marked], "/admin"))).toEqual(
    plain.encode(event(["progress", payload], "/admin")),
  );
});

test("the text is what goes out: the payload object is not serialized again", () => {
  const marked = withJsonText({ scope: "s", jobs: {} }, '{"scope":"s","jobs":{"x":null}}');
  expect(ours.encode(event(["progress", marked]))).toEqual([
    '2["progress",{"scope":"s","jobs":{"x":null}}]',
  ]);
});

test("unmarked payloads, acks, packets with an id and binary data take the default path", () => {
  const packets: parser.Packet[] = [
    event(["progress", payload]),
    event(["progress", payload], "/", 7),
    event(["ack-less", 1, 2]),
    { type: parser.PacketType.ACK, nsp: "/", id: 4, data: [{ ok: true }] },
    event(["bin", { data: Buffer.from([1, 2, 3]) }]),
    { type: parser.PacketType.CONNECT, nsp: "/", data: { sid: "x" } },
  ];
  for (const packet of packets) expect(ours.encode(packet)).toEqual(plain.encode(packet));
});

test("the decoder is the default one", () => {
  expect(preencodedParser.Decoder).toBe(parser.Decoder);
  expect(preencodedParser.protocol).toBe(parser.protocol);
});
