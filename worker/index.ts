export default {
  async fetch(): Promise<Response> {
    return new Response("pier");
  },
};
export { UploadSession } from "../durable-objects/upload-session";
