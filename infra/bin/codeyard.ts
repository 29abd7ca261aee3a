import { App } from 'aws-cdk-lib';
import { fileURLToPath } from 'node:url';
import { CodeyardStack } from '../lib/codeyard-stack.js';

/**
 * The CDK app. `npm run synth` writes the CloudFormation template to `infra/cdk.out` offline:
 * the stack is environment-agnostic and does no context lookups. Deploy with the CDK CLI
 * (`npx cdk deploy --app infra/cdk.out`); see docs/deploy.md.
 *
 * Settings come from CDK context (`-c key=value` with the CLI, or `CODEYARD_*` variables here).
 */
// Under the CDK CLI, CDK_OUTDIR names where the CLI reads the assembly; honour it.
const outdir = process.env.CDK_OUTDIR ?? fileURLToPath(new URL('../cdk.out', import.meta.url));
const app = new App({ outdir });

function setting(key: string, variable: string): string | undefined {
  const fromContext = app.node.tryGetContext(key) as string | undefined;
  return fromContext ?? (process.env[variable] || undefined);
}
function numberSetting(key: string, variable: string): number | undefined {
  const raw = setting(key, variable);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${key} (${variable}) must be a whole number, got ${raw}`);
  return value;
}

const optional = <T>(key: string, value: T | undefined) => (value === undefined ? {} : { [key]: value });

new CodeyardStack(app, setting('stackName', 'CODEYARD_STACK_NAME') ?? 'Codeyard', {
  description: 'codeyard: self-hosted cloud development environments',
  ...optional('fleetName', setting('fleetName', 'CODEYARD_FLEET_NAME')),
  ...optional('orchestratorImage', setting('orchestratorImage', 'CODEYARD_ORCHESTRATOR_IMAGE')),
  ...optional('nodeSoftwareUrl', setting('nodeSoftwareUrl', 'CODEYARD_NODE_SOFTWARE_URL')),
  ...optional('apiCertificateArn', setting('apiCertificateArn', 'CODEYARD_API_CERTIFICATE_ARN')),
  ...optional('apiIngressCidr', setting('apiIngressCidr', 'CODEYARD_API_INGRESS_CIDR')),
  ...optional('proxyIngressCidr', setting('proxyIngressCidr', 'CODEYARD_PROXY_INGRESS_CIDR')),
  ...optional('nodeInstanceType', setting('nodeInstanceType', 'CODEYARD_NODE_INSTANCE_TYPE')),
  ...optional('minNodes', numberSetting('minNodes', 'CODEYARD_MIN_NODES')),
  ...optional('maxNodes', numberSetting('maxNodes', 'CODEYARD_MAX_NODES')),
});

app.synth();
