// Types for the parts of http_ece (RFC 8188, no types of its own) the stand-in push service uses.
declare module "http_ece" {
  import type { ECDH } from "node:crypto";
  interface Params {
    version: "aes128gcm" | "aesgcm";
    privateKey?: ECDH;
    dh?: string;
    authSecret?: string;
    salt?: string;
    key?: string;
  }
  export function decrypt(buffer: Uint8Array, params: Params): Buffer;
  export function encrypt(buffer: Uint8Array, params: Params): Buffer;
}
