// Package config reads the agent's configuration file: the Kinesis Agent's JSON
// shape (a "flows" list of filePattern -> kinesisStream with their options), with
// every key checked. An unknown key, a wrong type or a value out of range is an
// *Error naming the file and the key (for example
// "agent.json: flows[0].dataProcessingOptions[1].logFormat: ..."); Kinesis Agent
// keys that have no meaning here are either rejected (ErrUnsupported) or accepted
// with a warning (Config.Warnings).
package config
