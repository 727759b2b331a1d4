# Multi-stage build of the published app: self-contained, with the framework and the app compiled ahead of time
# into one composite ReadyToRun image, so the server is ready in under a second and its first seconds under load
# run compiled code instead of waiting for the JIT (bench/README.md, "cold start").
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/LlmServer.Api/LlmServer.Api.csproj -c Release -o /app \
      -r linux-x64 --self-contained true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true

FROM mcr.microsoft.com/dotnet/runtime-deps:10.0 AS final
WORKDIR /app
# SERVER_PORT binds 0.0.0.0 inside the container. SQLite (ledger, keys, history, vault) lives in /data unless
# LLMSERVER_DB (PostgreSQL) is set. A smaller gen0 budget keeps RSS lower under load (see bench/README.md).
ENV SERVER_PORT=8080 \
    LLMSERVER_DATA_DIR=/data \
    DOTNET_GCgen0size=0x800000
COPY --from=build /app .
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["./LlmServer.Api"]
