import {
  ApiKeyListSchema,
  ApiKeyRotationSchema,
  ApiKeySchema,
  AppendBlockReplySchema,
  AppendBlockRequestSchema,
  BlockPageSchema,
  CompletionChunkSchema,
  CompletionRequestSchema,
  CompletionSchema,
  CreateApiKeyRequestSchema,
  CreatedApiKeySchema,
  CreateGenerationRequestSchema,
  ErrorBodySchema,
  FailRequestSchema,
  FinishRequestSchema,
  HeartbeatReplySchema,
  HeartbeatRequestSchema,
  JobListPageSchema,
  JobStatusReplySchema,
  JobViewSchema,
  LeaseReplySchema,
  LeaseRequestSchema,
  ModelListSchema,
  ReleaseRequestSchema,
  RotateApiKeyRequestSchema,
  StreamTokenSchema,
  WebhookDeliveryPageSchema,
  WebhookEventSchema,
} from "@bd3-serve/shared";
import { z } from "zod";
import { PREFER_WAIT_MAX_SECONDS } from "../config/constants.ts";
import { adminOperations } from "./admin-operations.ts";
import { clientOperations } from "./client-operations.ts";
import { operations } from "./operations.ts";

/**
 * OpenAPI 3.1 for the edge, generated from the same zod schemas the handlers validate with (zod 4's
 * JSON Schema output is draft 2020-12, which OpenAPI 3.1 uses as is). Request bodies are described as
 * clients send them (defaults optional), responses as the edge writes them.
 */
const INPUT_SCHEMAS = {
  CreateGenerationRequest: CreateGenerationRequestSchema,
  CompletionRequest: CompletionRequestSchema,
  LeaseRequest: LeaseRequestSchema,
  AppendBlockRequest: AppendBlockRequestSchema,
  HeartbeatRequest: HeartbeatRequestSchema,
  FinishRequest: FinishRequestSchema,
  FailRequest: FailRequestSchema,
  ReleaseRequest: ReleaseRequestSchema,
  CreateApiKeyRequest: CreateApiKeyRequestSchema,
  RotateApiKeyRequest: RotateApiKeyRequestSchema,
};

const OUTPUT_SCHEMAS = {
  Generation: JobViewSchema,
  Completion: CompletionSchema,
  CompletionChunk: CompletionChunkSchema,
  ModelList: ModelListSchema,
  StreamToken: StreamTokenSchema,
  GenerationList: JobListPageSchema,
  BlockPage: BlockPageSchema,
  DeliveryPage: WebhookDeliveryPageSchema,
  WebhookEvent: WebhookEventSchema,
  Error: ErrorBodySchema,
  AppendBlockReply: AppendBlockReplySchema,
  HeartbeatReply: HeartbeatReplySchema,
  JobStatusReply: JobStatusReplySchema,
  ApiKey: ApiKeySchema,
  CreatedApiKey: CreatedApiKeySchema,
  ApiKeyRotation: ApiKeyRotationSchema,
  ApiKeyList: ApiKeyListSchema,
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

let cached: Record<string, unknown> | null = null;

export function openApiDocument(serverUrl: string): Record<string, unknown> {
  cached ??= {
    openapi: "3.1.0",
    info: {
      title: "bd3-serve edge API",
      version: "1.0.0",
      description: `Long-document generation with block diffusion LMs. Create a job, then poll, page blocks, stream (SSE) or receive signed webhooks (Standard Webhooks). \`Prefer: wait=N\` holds a create up to ${PREFER_WAIT_MAX_SECONDS} s.`,
    },
    components: {
      schemas: {
        ...Object.fromEntries(
          Object.entries(INPUT_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema, "input")]),
        ),
        ...Object.fromEntries(
          Object.entries(OUTPUT_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema, "output")]),
        ),
        // As sent: the edge leaves `final_finish_reason` out when null (workers default it), so the wire
        // shape is the schema's input side, where that key is optional.
        LeaseReply: jsonSchema(LeaseReplySchema, "input"),
      },
      securitySchemes: {
        apiKey: {
          type: "http",
          scheme: "bearer",
          description:
            "API key of a tenant, with scopes: GET/HEAD routes need generations:read, other public routes generations:write, /v1/admin/* and POST /v1/webhook-secret/rotate admin (403 permission_error names the missing scope)",
        },
        jobCapability: { type: "http", scheme: "bearer", description: "Per-job capability from the queue message" },
      },
    },
    security: [{ apiKey: [] }],
    paths: { ...operations(), ...clientOperations(), ...adminOperations() },
    webhooks: {
      generationEvent: {
        post: {
          summary: "Standard Webhooks delivery (webhook-id, webhook-timestamp, webhook-signature headers)",
          requestBody: {
            required: true,
            content: { "application/json": { schema: { $ref: "#/components/schemas/WebhookEvent" } } },
          },
          responses: { "200": { description: "any 2xx acknowledges; 410 stops deliveries; others are retried" } },
        },
      },
    },
  };
  return { ...cached, servers: [{ url: serverUrl }] };
}
