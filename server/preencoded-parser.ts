/**
 * socket.io's default parser, except that an event whose payload carries its
 * own JSON text (see `withJsonText`) is encoded from that text: a progress
 * update relayed from one pub/sub message goes out as the message's bytes,
 * with no JSON.stringify and no walk looking for binary data. The result is
 * what the default encoder produces for that payload, so clients use the
 * default parser.
 */
import * as parser from "socket.io-parser";

/**
 * Where a payload carries its JSON text: a symbol key, which JSON.stringify
 * and socket.io's walk for binary data (for…in) both skip. (A WeakMap from
 * payload to text cost an insertion and a lookup in its table per update.)
 */
const JSON_TEXT = Symbol("jsonText");

/** Tells the encoder that `payload` serializes to `text` (which must be its exact JSON). */
export function withJsonText<T extends object>(payload: T, text: string): T {
  (payload as T & { [JSON_TEXT]?: string })[JSON_TEXT] = text;
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
      const text = (data[1] as { [JSON_TEXT]?: unknown })[JSON_TEXT];
      if (typeof text === "string") {
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
