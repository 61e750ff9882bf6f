// Checks BuildTrace's deploy files beyond what each tool's own lint sees; run by
// scripts/check-deploy.sh, which says what each check is for. Usage:
//   node validate.mjs dockerfile FILE [STAGE]      checks the stages; prints the packages STAGE
//                                                  (build or runtime, the default) installs
//   node validate.mjs manifests FILE.yaml...       validates every object against its schema
// Exits with 1 and one line per problem ("FILE: what is wrong") when anything is wrong.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import YAML from "yaml";

const require = createRequire(import.meta.url);
const { DockerfileParser } = require("dockerfile-ast");

const problems = [];
const problem = (file, message) => problems.push(`${file}: ${message}`);

// The Dockerfile: a "build" and a "runtime" stage, the runtime stage last, running as a non-root
// user, checking /healthz, stopping on SIGTERM, starting the binary. Returns the packages the stage
// named installs, for the library checks.
function checkDockerfile(file, wanted) {
  const dockerfile = DockerfileParser.parse(fs.readFileSync(file, "utf8"));
  const stages = [];
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword === "FROM") {
      stages.push({ name: instruction.getBuildStage(), image: instruction.getImageName(),
                    tag: instruction.getImageTag(), instructions: [] });
    } else if (stages.length > 0) {
      stages.at(-1).instructions.push(instruction);
    }
  }
  const names = stages.map((s) => s.name);
  if (names.join(",") !== "build,runtime") {
    problem(file, `stages must be "build" then "runtime", found ${JSON.stringify(names)}`);
    return [];
  }
  for (const stage of stages) {
    if (stage.image !== "debian" || stage.tag !== "12-slim") {
      problem(file, `stage ${stage.name} must start FROM debian:12-slim, not ${stage.image}:${stage.tag}`);
    }
  }
  const runtime = stages[1].instructions;
  const all = (keyword) => runtime.filter((i) => i.getKeyword() === keyword);
  const text = (i) => i.getArgumentsContent() ?? "";
  const user = all("USER").at(-1);
  if (!user || /^(0|root)(:|$)/.test(text(user))) problem(file, "the runtime stage must end with a non-root USER");
  const health = all("HEALTHCHECK").at(-1);
  if (!health || !text(health).includes("/healthz")) problem(file, "the runtime stage needs a HEALTHCHECK on /healthz");
  const stop = all("STOPSIGNAL").at(-1);
  if (stop && text(stop) !== "SIGTERM") problem(file, `STOPSIGNAL must be SIGTERM (Cloud Run sends it), not ${text(stop)}`);
  const env = all("ENV").map(text).join(" ");
  if (!/\bBUILDTRACE_HOST=0\.0\.0\.0\b/.test(env)) problem(file, "the runtime stage must set BUILDTRACE_HOST=0.0.0.0");
  const entry = all("ENTRYPOINT").at(-1);
  if (!entry || !text(entry).includes("/usr/local/bin/buildtrace")) problem(file, "ENTRYPOINT must run /usr/local/bin/buildtrace");
  const copies = all("COPY").map(text);
  // Both binaries: the front (`buildtrace`) runs every command but diff in `buildtrace-full`.
  for (const binary of ["/out/buildtrace ", "/out/buildtrace-full "]) {
    if (!copies.some((c) => `${c} `.includes(binary))) problem(file, `the runtime stage must copy ${binary.trim()} from the build stage`);
  }
  // The packages of the runtime stage's `apt-get install`, options and shell words aside.
  const packages = [];
  const stage = stages.find((s) => s.name === wanted);
  if (!stage) {
    problem(file, `no stage ${wanted}`);
    return [];
  }
  for (const run of stage.instructions.filter((i) => i.getKeyword() === "RUN")) {
    const words = text(run).replace(/\\\n/g, " ").replace(/(&&|;)/g, " $1 ").split(/\s+/);
    const at = words.indexOf("install");
    if (at < 0 || words[at - 1] !== "apt-get") continue;
    for (const word of words.slice(at + 1)) {
      if (word === "" || word.startsWith("-")) continue;
      if (!/^[a-z0-9][a-z0-9+.-]+$/.test(word)) break;  // "&&", ";", "|": the command ends
      packages.push(word);
    }
  }
  if (packages.length === 0) problem(file, `stage ${wanted} installs no packages with apt-get install`);
  return packages;
}

// Every object of every file against its schema (kubernetes-models, @kubernetes-models/knative):
// types, required fields, enums. The models accept unknown fields, as Kubernetes' OpenAPI schemas
// do; `kubectl apply --dry-run=server --validate=strict` on a cluster catches those.
async function modelFor(apiVersion, kind) {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const candidates = group.endsWith("knative.dev")
    ? [`@kubernetes-models/knative/${group}/${version}/${kind}`]
    : [`kubernetes-models/${group ? `${group}/` : ""}${version}/${kind}`];
  for (const specifier of candidates) {
    try {
      const module = await import(specifier);
      if (module[kind]) return module[kind];
    } catch {
      // not this package
    }
  }
  return null;
}

const labelsMatch = (selector, labels) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v) && Object.keys(selector ?? {}).length > 0;

function checkWorkload(file, object) {
  const pod = object.spec?.template?.spec ?? {};
  const podLabels = object.spec?.template?.metadata?.labels;
  if (object.kind === "Deployment" && !labelsMatch(object.spec?.selector?.matchLabels, podLabels)) {
    problem(file, `${object.kind} ${object.metadata.name}: the selector does not match the pod's labels`);
  }
  for (const container of pod.containers ?? []) {
    const where = `${object.kind} ${object.metadata.name}, container ${container.name ?? container.image}`;
    const args = container.args ?? [];
    if (!["serve", "worker"].includes(args[0])) problem(file, `${where}: args must start with serve or worker`);
    if (object.kind === "Deployment") {
      const sc = container.securityContext ?? {};
      if (sc.readOnlyRootFilesystem !== true) problem(file, `${where}: needs readOnlyRootFilesystem: true`);
      if (sc.allowPrivilegeEscalation !== false) problem(file, `${where}: needs allowPrivilegeEscalation: false`);
      if (pod.securityContext?.runAsNonRoot !== true) problem(file, `${where}: the pod needs runAsNonRoot: true`);
      if (!container.resources?.requests || !container.resources?.limits?.memory) {
        problem(file, `${where}: needs resource requests and a memory limit`);
      }
    }
    if (args[0] === "serve") {
      if (container.readinessProbe && container.readinessProbe.httpGet?.path !== "/readyz") {
        problem(file, `${where}: the readiness probe must ask /readyz`);
      }
      if (container.livenessProbe?.httpGet?.path !== "/healthz") problem(file, `${where}: the liveness probe must ask /healthz`);
      if (object.kind === "Deployment" && container.readinessProbe?.httpGet?.path !== "/readyz") {
        problem(file, `${where}: needs a readiness probe on /readyz`);
      }
    }
    const mounts = new Set((container.volumeMounts ?? []).map((m) => m.name));
    for (const name of mounts) {
      if (!(pod.volumes ?? []).some((v) => v.name === name)) problem(file, `${where}: mounts ${name}, which is no volume`);
    }
  }
}

async function checkManifests(files) {
  const objects = [];
  for (const file of files) {
    const documents = YAML.parseAllDocuments(fs.readFileSync(file, "utf8"));
    for (const document of documents) {
      if (document.errors.length > 0) {
        for (const e of document.errors) problem(file, `YAML: ${e.message}`);
        continue;
      }
      const object = document.toJS();
      if (object === null) continue;
      const { apiVersion, kind } = object;
      const Model = apiVersion && kind ? await modelFor(apiVersion, kind) : null;
      if (!Model) {
        problem(file, `no schema for apiVersion ${apiVersion} kind ${kind}`);
        continue;
      }
      try {
        new Model(object).validate();
      } catch (e) {
        problem(file, `${kind} ${object.metadata?.name}: ${e.message}`);
        continue;
      }
      objects.push({ file: path.basename(file), object });
      if (["Deployment", "Service"].includes(kind) && object.spec?.template) checkWorkload(file, object);
    }
  }
  // Cross-references: what a Service, an HPA and a PDB point at exists and matches.
  const deployments = objects.filter((o) => o.object.kind === "Deployment").map((o) => o.object);
  for (const { file, object } of objects) {
    const name = `${object.kind} ${object.metadata.name}`;
    if (object.kind === "Service" && object.apiVersion === "v1") {
      const target = deployments.find((d) => labelsMatch(object.spec.selector, d.spec.template.metadata.labels));
      if (!target) problem(file, `${name}: its selector matches no Deployment's pods`);
      for (const port of object.spec.ports ?? []) {
        const named = target?.spec.template.spec.containers.some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort));
        if (target && typeof port.targetPort === "string" && !named) problem(file, `${name}: targetPort ${port.targetPort} is no container port`);
      }
    }
    if (object.kind === "HorizontalPodAutoscaler") {
      const ref = object.spec.scaleTargetRef;
      if (!deployments.some((d) => ref.kind === "Deployment" && d.metadata.name === ref.name)) {
        problem(file, `${name}: scales ${ref.kind} ${ref.name}, which is not here`);
      }
    }
    if (object.kind === "PodDisruptionBudget") {
      if (!deployments.some((d) => labelsMatch(object.spec.selector?.matchLabels, d.spec.template.metadata.labels))) {
        problem(file, `${name}: its selector matches no Deployment's pods`);
      }
    }
  }
  const kinds = objects.map((o) => `${o.object.kind}/${o.object.metadata.name}`);
  console.log(`validated ${kinds.length} objects: ${kinds.join(", ")}`);
}

const [mode, ...files] = process.argv.slice(2);
if (mode === "dockerfile" && (files.length === 1 || files.length === 2)) {
  const packages = checkDockerfile(files[0], files[1] ?? "runtime");
  if (problems.length === 0) console.log(packages.join("\n"));
} else if (mode === "manifests" && files.length > 0) {
  await checkManifests(files);
} else {
  console.error("usage: node validate.mjs dockerfile FILE [STAGE] | manifests FILE...");
  process.exit(2);
}
for (const p of problems) console.error(p);
process.exit(problems.length > 0 ? 1 : 0);
