namespace Cicada.Mqtt.Tests;
