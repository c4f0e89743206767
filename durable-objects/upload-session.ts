import { DurableObject } from "cloudflare:workers";
import type { Bindings } from "../worker/env";
export class UploadSession extends DurableObject<Bindings> {}
