# syntax=docker/dockerfile:1
#
# The runner image plus kubectl: distroless has no shell and no package
# manager, so a tool is added by copying a static binary from another image.
#
#   docker build -t flashduty-runner .
#   docker build -f deploy/docker/kubectl.Dockerfile \
#     --build-arg RUNNER_IMAGE=flashduty-runner -t flashduty-runner-kubectl .
#
# Any other static binary goes the same way (a dynamically linked one also
# needs its libraries, which distroless/cc does not have beyond glibc).
ARG RUNNER_IMAGE=flashduty-runner:latest
ARG KUBECTL_IMAGE=registry.k8s.io/kubectl:v1.33.1

FROM ${KUBECTL_IMAGE} AS kubectl

FROM ${RUNNER_IMAGE}
# /usr/local/bin is one of the directories the binary may look programs up in.
COPY --from=kubectl /bin/kubectl /usr/local/bin/kubectl
