# Multi-stage build of the published app.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/LlmServer.Api/LlmServer.Api.csproj -c Release -o /app /p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app
ENV SERVER_PORT=8080 \
    LLMSERVER_DATA_DIR=/data
COPY --from=build /app .
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["dotnet", "LlmServer.Api.dll"]
