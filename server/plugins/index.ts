// What plugin authors import: definePlugin, the result constructors, the hook names and types, allow-list matching.
export { definePlugin, type PluginApi, type PostfachPlugin, type PluginDefinition } from './define.js';
export { results, type HookResult, type HookReturn, type ResultCode } from './results.js';
export { HOOK_NAMES, type HookName, type HookContext, type HookFunction, type HookOptions, type PluginConnection, type PluginTransaction, type DeliveryReport } from './hooks.js';
export type { PluginSetting, PluginConfigOf } from './settings.js';
export { AddressList } from './addresses.js';
