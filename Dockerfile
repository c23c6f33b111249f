# One static binary, one distroless image: surveyguard manager | collector | purge.
# The build command is the Makefile's `make build` (BUILD_FLAGS); test/build
# runs the `go build` line below to keep the two the same.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags="-s -w" -o /out/surveyguard .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/surveyguard /surveyguard
USER 65532:65532
ENTRYPOINT ["/surveyguard"]
CMD ["manager"]
