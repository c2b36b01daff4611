export {
  type BuildPromptOptions,
  buildPrompt,
  DEFAULT_MAX_LENGTH,
  renderMessages,
  splitSlots,
} from "./buildPrompt.js";
export {
  type ChatModel,
  type ChatTemplateChoice,
  chatTemplateChoice,
  chatTemplateName,
  REFERENCE_CHAT_TEMPLATE,
  type RenderedChat,
  referenceGemma2,
  referenceQwen2,
  renderChat,
  renderJinja,
} from "./chatTemplate.js";
export { promptSegments, promptSegmentsWithRows } from "./segments.js";
export {
  MARKER_MARK,
  MARKERS,
  type MarkerMode,
  pythonFloat,
  SLOT_MARK,
  type SlotKinds,
  type SoftSlotKinds,
  SYSTEM_TEXT,
  userMessage,
} from "./text.js";
export type {
  BuiltPrompt,
  PromptHistoryReview,
  PromptInput,
  PromptItem,
  PromptPiece,
  PromptTokenizer,
} from "./types.js";
