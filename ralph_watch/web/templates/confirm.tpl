% rebase('base')
<section class="card">
  <h1>Cancel {{name}}?</h1>
  % if title_text:
  <p class="muted">“{{title_text}}”</p>
  % end
  <p>Cancelling deletes <strong>both files</strong> of this pair from the inbox (and, in a synced
  folder, from every synced device). This cannot be undone.</p>
  % if files:
  <ul class="files" aria-label="Files that will be deleted">
    % for f in files:
    <li><code>{{f}}</code></li>
    % end
  </ul>
  % end
  <div class="actions">
    <form method="post" action="/tasks/{{task_id}}/cancel" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <input type="hidden" name="confirmed" value="yes">
      <button type="submit" class="danger">Yes, cancel and delete the files</button>
    </form>
    <a class="button" href="/">No, keep it</a>
  </div>
</section>
