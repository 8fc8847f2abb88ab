// Files imported `with { type: "file" }` are their path (embedded in the binary).
declare module "*.png" {
  const path: string;
  export default path;
}
