using LlmServer.External.Operations;
using LlmServer.Services.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StackExchange.Redis;

namespace LlmServer.External.Redis;

/// <summary>
/// The one Redis connection of a server instance: REDIS_URL parsed once, one <see cref="IConnectionMultiplexer"/>
/// owned (and disposed) by the container, shared by the masking vault and the per-key rate limits.
/// </summary>
public static class RedisConnection
{
    /// <summary>
    /// StackExchange.Redis options from REDIS_URL: <c>redis://[user:password@]host[:port][/db]</c> (<c>rediss://</c>
    /// for TLS) or the client's own <c>host:port,password=...</c> form. Never fails on an unreachable server: the
    /// multiplexer keeps reconnecting and each use fails on its own.
    /// </summary>
    public static ConfigurationOptions Parse(string redisUrl)
    {
        if (!redisUrl.StartsWith("redis://", StringComparison.OrdinalIgnoreCase)
            && !redisUrl.StartsWith("rediss://", StringComparison.OrdinalIgnoreCase))
        {
            var own = ConfigurationOptions.Parse(redisUrl);
            // NOTE: an explicit abortConnect in the client's form wins; otherwise a Redis down for a moment must not stop the start.
            if (!redisUrl.Contains("abortConnect", StringComparison.OrdinalIgnoreCase))
            {
                own.AbortOnConnectFail = false;
            }
            return own;
        }
        var uri = new Uri(redisUrl);
        var options = new ConfigurationOptions
        {
            AbortOnConnectFail = false,
            Ssl = uri.Scheme.Equals("rediss", StringComparison.OrdinalIgnoreCase),
        };
        options.EndPoints.Add(uri.Host, uri.Port > 0 ? uri.Port : 6379);
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var info = uri.UserInfo;
            var colon = info.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                options.User = Uri.UnescapeDataString(info[..colon]);
            }
            options.Password = Uri.UnescapeDataString(colon >= 0 ? info[(colon + 1)..] : info);
        }
        if (int.TryParse(uri.AbsolutePath.Trim('/'), out var db))
        {
            options.DefaultDatabase = db;
        }
        return options;
    }

    /// <summary>
    /// Registers the instance's multiplexer for <paramref name="redisUrl"/> and Redis as a status and health
    /// component (once, whichever store asks first).
    /// </summary>
    public static IServiceCollection AddRedisConnection(this IServiceCollection services, string redisUrl)
    {
        if (services.Any(d => d.ServiceType == typeof(IConnectionMultiplexer)))
        {
            return services;
        }
        services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(Parse(redisUrl)));
        services.TryAddSingleton(sp => new RedisStatusContributor(sp.GetRequiredService<IConnectionMultiplexer>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStatusContributor, RedisStatusContributor>());
        services.AddHealthChecks().AddCheck<ContributorHealthCheck<RedisStatusContributor>>("redis");
        return services;
    }
}
