import { Bd3Client } from "../client.ts";
import { CliError } from "./cli-error.ts";

/** The client the commands use: `BD3_API_URL` and `BD3_API_KEY` from the environment, both required. */
export function clientFromEnv(env: Record<string, string | undefined> = process.env): Bd3Client {
  const baseUrl = env.BD3_API_URL?.trim();
  const apiKey = env.BD3_API_KEY?.trim();
  if (!baseUrl) throw new CliError("BD3_API_URL is not set: export BD3_API_URL=https://<the API's origin>");
  if (!URL.canParse(baseUrl)) throw new CliError(`BD3_API_URL is not a URL: '${baseUrl}'`);
  if (!apiKey) throw new CliError("BD3_API_KEY is not set: export BD3_API_KEY=bd3_... (your API key)");
  return new Bd3Client({ baseUrl, apiKey });
}
