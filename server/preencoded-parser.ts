/**
 * socket.io's default parser, except that an event whose payload carries its
 * own JSON text (see `withJsonText`) is encoded from that text: a progress
 * update relayed from one pub/sub message goes out as the message's bytes,
 * with no JSON.stringify and no walk looking for binary data. The result is
 * what the default encoder produces for that payload, so clients use the
 * default parser.
 */
import * as parser from "socket.io-parser";

const texts = new WeakMap<object, string>();

/** Tells the encoder that `payload` serializes to `text` (which must be its exact JSON). */
export function withJsonText<T extends object>(payload: T, text: string): T {
  texts.set(payload, text);
  return payload;
}

class Encoder extends parser.Encoder {
  override encode(packet: parser.Packet): ReturnType<parser.Encoder["encode"]> {
    const data: unknown = packet.data;
    if (
      packet.type === parser.PacketType.EVENT &&
      packet.id === undefined &&
      Array.isArray(data) &&
      data.length === 2 &&
      typeof data[0] === "string" &&
      typeof data[1] === "object" &&
      data[1] !== null
    ) {
      const text = texts.get(data[1] as object);
      if (text !== undefined) {
        const nsp = packet.nsp && packet.nsp !== "/" ? `${packet.nsp},` : "";
        return [`${parser.PacketType.EVENT}${nsp}[${JSON.stringify(data[0])},${text}]`];
      }
    }
    return super.encode(packet);
  }
}

/** The `parser` option of the gateway's socket.io Server. */
export const preencodedParser = {
  protocol: parser.protocol,
  Encoder,
  Decoder: parser.Decoder,
};
