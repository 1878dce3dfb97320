import { Hono } from "hono";

/**
 * The baseline of the create benchmark: a bare Hono route that parses the same JSON body and answers 202,
 * with no auth, no Durable Object and no queue. The gap to the real create is the cost of the job itself.
 */
const app = new Hono();

app.post("/v1/generations", async (c) => {
  const body = await c.req.json<{ prompt?: string }>();
  return c.json(
    { id: "gen_bare", object: "generation", status: "queued", prompt_length: body.prompt?.length ?? 0 },
    202,
  );
});

export default app;
