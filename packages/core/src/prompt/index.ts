export {
  type BuildPromptOptions,
  buildPrompt,
  DEFAULT_MAX_LENGTH,
  renderMessages,
  splitSlots,
} from "./buildPrompt.js";
export { promptSegments, promptSegmentsWithRows } from "./segments.js";
export { SLOT_MARK, type SlotKinds, type SoftSlotKinds, SYSTEM_TEXT, userMessage } from "./text.js";
export type {
  BuiltPrompt,
  PromptHistoryReview,
  PromptInput,
  PromptItem,
  PromptPiece,
  PromptTokenizer,
} from "./types.js";
