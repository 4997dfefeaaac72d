# syntax=docker/dockerfile:1
#
# flashduty-runner: a single compiled binary on distroless.
#
#   docker build -t flashduty-runner .
#   docker run -d --name flashduty-runner \
#     -e FLASHDUTY_RUNNER_TOKEN=wnt_xxx \
#     -v flashduty-workspace:/workspace \
#     flashduty-runner
#
# The binary's Deno permissions are baked in by tools/compile.ts: files are
# read and written in /workspace only (plus /etc/flashduty-runner and the
# command directories, read-only). The image has no shell and no tools: add
# the programs your permission rules name with a derived image
# (deploy/docker/kubectl.Dockerfile).

# --- build: compile for the platform being built (buildx builds each one natively or under QEMU)
FROM denoland/deno:2.9.6 AS build
WORKDIR /src
# The lockfile pins every npm dependency; the build fails rather than resolve anew.
COPY deno.json deno.lock ./
COPY main.ts ./
COPY lib ./lib
COPY tools/compile.ts ./tools/compile.ts
RUN deno task compile --host --no-archive --out-dir /out \
 && cp /out/*/flashduty-runner /flashduty-runner \
 && /flashduty-runner version
# distroless has no shell to mkdir with: make the workspace here, owned by nonroot (65532).
RUN mkdir -p /rootfs/workspace && chown 65532:65532 /rootfs/workspace

# --- run: glibc and libgcc only, no shell, no package manager, user nonroot
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /flashduty-runner /usr/local/bin/flashduty-runner
COPY --from=build --chown=65532:65532 /rootfs/workspace /workspace
USER nonroot:nonroot
ENV FLASHDUTY_RUNNER_WORKSPACE=/workspace \
    FLASHDUTY_RUNNER_URL=wss://api.flashcat.cloud/safari/worknode/ws \
    FLASHDUTY_RUNNER_LOG_FORMAT=json \
    DENO_NO_UPDATE_CHECK=1
# FLASHDUTY_RUNNER_TOKEN is given at run time (-e, or a Kubernetes Secret); never baked in.
WORKDIR /workspace
VOLUME ["/workspace"]
ENTRYPOINT ["/usr/local/bin/flashduty-runner", "run"]
